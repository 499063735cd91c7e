"""The base class of the API's model serializers.

DRF's ``ModelSerializer`` introspects the model again each time a serializer is instantiated (one
``build_field`` per field: choices, validators, max lengths, related querysets), which was a
quarter of the CPU of an incident intake. The result depends only on the class, so it is built
once per class and each instance gets a deep copy, exactly as DRF already does for declared
fields (``Field.__deepcopy__`` re-creates a field from its constructor arguments, unbound).
"""

from __future__ import annotations

import copy

from rest_framework import serializers


class ModelSerializer(serializers.ModelSerializer):
    """``serializers.ModelSerializer`` whose fields are introspected once per class."""

    def get_fields(self):
        template = type(self).__dict__.get("_fields_template")
        if template is None:
            template = super().get_fields()
            # Per class (not inherited): a subclass has fields of its own.
            type(self)._fields_template = template
        return copy.deepcopy(template)
