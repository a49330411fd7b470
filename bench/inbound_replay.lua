-- wrk script for bench/inbound_bench.py: replays pre-signed inbound webhooks (Twilio's or Meta's).
-- REQS_FILE holds one request a line, "<header value>\t...\t<body>", every message id unique;
-- thread k of n sends lines k, k+n, k+2n, ... so no two threads send the same message.
-- REQ_PATH is the path to POST to, SIG_HEADER the names of those headers, comma-separated
-- (X-Twilio-Signature; X-Hub-Signature-256; Authorization,X-Forwarded-For), CONTENT_TYPE the body's. done() prints one WRKJSON line for the bench to parse.
local threads = {}
local path = os.getenv("REQ_PATH") or "/"
local names = {}
for name in (os.getenv("SIG_HEADER") or "X-Twilio-Signature"):gmatch("[^,]+") do names[#names + 1] = name end
local content_type = os.getenv("CONTENT_TYPE") or "application/x-www-form-urlencoded"

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local n = tonumber(os.getenv("WRK_THREADS") or "1")
  reqs, i = {}, 0
  local k = 0
  for line in io.lines(os.getenv("REQS_FILE")) do
    if k % n == tid then
      local headers, rest = { ["Content-Type"] = content_type }, line
      for _, name in ipairs(names) do
        local value, tail = rest:match("^([^\t]*)\t(.*)$")
        headers[name], rest = value, tail
      end
      reqs[#reqs + 1] = wrk.format("POST", path, headers, rest)
    end
    k = k + 1
  end
end

function request()
  i = i % #reqs + 1   -- wraps only if the run outlives the file: the bench sizes it generously
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect_err":%d,"read_err":%d,"write_err":%d,' ..
    '"status_err":%d,"timeout_err":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
