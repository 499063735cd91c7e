-- wrk script for the intake scenario (bench/intake.py): every request is a real integration
-- client's report with its own Idempotency-Key, and the run's figures come out as one JSON line.
--
--   wrk -t2 -c16 -d15s -s bench/wrk_intake.lua http://127.0.0.1:8765 -- api <key> <district ids,>
--   wrk -t2 -c16 -d15s -s bench/wrk_intake.lua http://127.0.0.1:8765 -- floor
--
-- Statuses are counted per thread in response() and summed in done(); connection errors come
-- from wrk's own summary. Latency percentiles are wrk's (it records every request).

local threads = {}
local thread_index = 0

local CATEGORIES = { "medical", "traffic-accident", "fire", "flood", "fallen-tree", "crime", "animal-snake", "social", "other" }
local DESCRIPTIONS = {
    "Kebakaran rumah warga, api mulai membesar",
    "Tabrakan motor dan mobil, satu korban luka",
    "Pohon tumbang menutup jalan",
    "Warga pingsan di pinggir jalan",
    "Banjir setinggi lutut di permukiman",
}

function setup(thread)
    thread_index = thread_index + 1
    thread:set("id", thread_index)
    table.insert(threads, thread)
end

local mode, key, districts
local counter = 0
statuses = {}  -- global: done() reads it from every thread with thread:get()

function init(args)
    mode = args[1] or "floor"
    key = args[2]
    districts = {}
    for value in string.gmatch(args[3] or "", "[^,]+") do
        table.insert(districts, tonumber(value))
    end
    -- A different sequence in every thread, and in every run (keys must never repeat).
    math.randomseed(os.time() * 1000 + id)
    run_tag = string.format("%x%04x", os.time(), math.random(0, 65535))
    statuses = {}
end

local function pick(list)
    return list[math.random(1, #list)]
end

function request()
    counter = counter + 1
    if mode == "floor" then
        return wrk.format("POST", "/bench/floor/", { ["Content-Type"] = "application/json" },
            '{"category": "fire", "description": "floor"}')
    end
    local body = string.format(
        '{"category": "%s", "description": "%s", "address": "Jl. Pemuda No. %d", "district": %d, '
            .. '"latitude": %.6f, "longitude": %.6f, "caller_name": "Bench", "caller_number": "08%d%d"}',
        pick(CATEGORIES), pick(DESCRIPTIONS), math.random(1, 200), pick(districts),
        -7.0 + (math.random() - 0.5) * 0.1, 110.42 + (math.random() - 0.5) * 0.16,
        math.random(11, 99), math.random(10000000, 99999999))
    return wrk.format("POST", "/api/v1/incidents/", {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Api-Key " .. key,
        ["Idempotency-Key"] = string.format("wrk-%s-%d-%d", run_tag, id, counter),
    }, body)
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local totals = {}
    for _, thread in ipairs(threads) do
        local counts = thread:get("statuses")
        for status, n in pairs(counts) do
            totals[tostring(status)] = (totals[tostring(status)] or 0) + n
        end
    end
    local parts = {}
    for status, n in pairs(totals) do
        table.insert(parts, string.format('"%s": %d', status, n))
    end
    local e = summary.errors
    io.write(string.format(
        'WRK_RESULT {"duration_us": %d, "requests": %d, "statuses": {%s}, '
            .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
            .. '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
        summary.duration, summary.requests, table.concat(parts, ", "),
        e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
