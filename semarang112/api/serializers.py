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


class FlatInputSerializer(serializers.Serializer):
    """An input serializer of plain fields whose instances share the fields' configuration.

    DRF gives every serializer instance a deep copy of each declared field, which re-runs each
    field's constructor (choices, querysets, validators): a quarter of a millisecond per intake.
    Here each instance gets shallow copies: ``bind()`` sets the field's name and parent on the
    copy, and what the copies share is only read (DRF calls ``.all()`` on a related field's
    queryset before using it). Nested serializers and fields with a ``child`` (lists, dicts) keep
    their child bound to the original field, so they are refused here.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, field in cls._declared_fields.items():
            if isinstance(field, serializers.BaseSerializer) or hasattr(field, "child") or hasattr(field, "child_relation"):
                raise TypeError(f"{cls.__name__}.{name}: FlatInputSerializer takes plain fields only")

    def get_fields(self):
        return {name: _shallow_copy(field) for name, field in self._declared_fields.items()}


def _shallow_copy(field):
    """What ``copy.copy(field)`` gives (a new instance sharing the attribute values), without the
    pickle protocol's detour through ``__reduce_ex__``: a field keeps all its state in ``__dict__``."""
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    return clone
