-- wrk script for the benchmark: counts responses by status and writes a JSON summary.
--
--   wrk ... -s tests/bench/wrk.lua URL -- RESULT_JSON REQUESTS_FILE RUN_PREFIX
--
-- Each line of REQUESTS_FILE is "METHOD<tab>PATH<tab>COOKIE<tab>BODY"; each thread takes
-- the lines in turn. In a body, __TOKEN__ becomes a fresh UUID on every request (a new
-- submission token, as a freshly opened incident form carries): RUN_PREFIX (8 hex
-- digits, new for every run), the thread's number and a counter make it unique.
--
-- A request "succeeds" only with the status the harness expects: 200 for pages, and
-- for a filing a 302 to /incidents/<pk>/filed/ (counted as "filed").

local run_prefix
local lines = {}
local next_line = 1
local counter = 0
-- Globals, so that setup() can set them and done() can read them in each thread.
result_path = nil
thread_number = 0
statuses = {}
filed = 0

local threads = {}
local created = 0

function setup(thread)
    created = created + 1
    thread:set("thread_number", created)
    table.insert(threads, thread)
end

function init(args)
    result_path = args[1]
    run_prefix = args[3]
    for line in io.lines(args[2]) do
        local method, path, cookie, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
        table.insert(lines, {method = method, path = path, cookie = cookie, body = body})
    end
    next_line = 1 + (thread_number * 7) % #lines
end

local function token()
    counter = counter + 1
    return string.format("%s-%04x-4000-8000-%012x", run_prefix, thread_number, counter)
end

function request()
    local item = lines[next_line]
    next_line = next_line % #lines + 1
    local headers = {["Cookie"] = item.cookie}
    local body = nil
    if item.method == "POST" then
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = item.body:gsub("__TOKEN__", token())
    end
    return wrk.format(item.method, item.path, headers, body)
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    if status == 302 then
        local location = headers["Location"] or headers["location"] or ""
        if location:match("/incidents/%d+/filed/$") then
            filed = filed + 1
        end
    end
end

function done(summary, latency, requests)
    local counts = {}
    local total_filed = 0
    for _, thread in ipairs(threads) do
        local thread_statuses = thread:get("statuses")
        for status, count in pairs(thread_statuses) do
            counts[status] = (counts[status] or 0) + count
        end
        total_filed = total_filed + thread:get("filed")
    end
    local parts = {}
    for status, count in pairs(counts) do
        table.insert(parts, string.format('"%d": %d', status, count))
    end
    -- done() runs in the main script, where init() never ran: ask a thread.
    local file = assert(io.open(threads[1]:get("result_path"), "w"))
    file:write(string.format(
        '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
        '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
        '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d}, ' ..
        '"statuses": {%s}, "filed": %d}\n',
        summary.requests, summary.duration, summary.bytes,
        summary.errors.connect, summary.errors.read, summary.errors.write,
        summary.errors.status, summary.errors.timeout,
        latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), table.concat(parts, ", "), total_filed))
    file:close()
end
