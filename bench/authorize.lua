-- wrk script for the POST /v1/authorize throughput benchmark (driven by authorize_wrk.py).
--
-- Every request must carry a fresh nonce and a recent timestamp, so the driver signs them all
-- beforehand and writes one file per wrk thread: PREFIX.0, PREFIX.1, ... Each file holds raw
-- HTTP/1.1 requests, each one framed as "<byte length>\n<request bytes>". A thread sends the
-- requests of its own file once each, in order, so no nonce is ever sent twice.
--
-- Usage: wrk -t T -c C -d D -s authorize.lua http://127.0.0.1:PORT -- PREFIX T
--
-- done() prints one line "BENCH_RESULT k=v k=v ..." with the totals that the driver parses:
-- status counts, how many 200 responses held an ALLOW with a proof token, latency percentiles.

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("tid", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state).
local pool = {}
local pool_size = 0
local next_index = 1
local fallback = nil

function init(args)
   local prefix = args[1]
   if prefix == nil then
      error("usage: wrk ... -s authorize.lua URL -- PREFIX THREADS")
   end
   local path = prefix .. "." .. tid
   local file = assert(io.open(path, "rb"))
   local data = file:read("*a")
   file:close()
   local pos = 1
   local total = #data
   while pos <= total do
      local newline = string.find(data, "\n", pos, true)
      if newline == nil then
         error("truncated request file " .. path)
      end
      local length = tonumber(string.sub(data, pos, newline - 1))
      pool_size = pool_size + 1
      pool[pool_size] = string.sub(data, newline + 1, newline + length)
      pos = newline + 1 + length
   end
   -- Sent only once the pool has run out (the run is then flagged as invalid by the driver).
   fallback = wrk.format("GET", "/v1/health")
   -- Counters read by done() through thread:get().
   statuses = {}
   non200 = 0
   allow_with_proof = 0
   exhausted = 0
   first_error = ""
   loaded = pool_size
end

function request()
   local index = next_index
   if index > pool_size then
      exhausted = exhausted + 1
      wrk.thread:stop()
      return fallback
   end
   next_index = index + 1
   return pool[index]
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   if status ~= 200 then
      non200 = non200 + 1
      if first_error == "" and body ~= nil then
         first_error = string.sub(body, 1, 300)
      end
      return
   end
   if body ~= nil
      and string.find(body, '"result":"ALLOW"', 1, true)
      and string.find(body, '"proof_token":"v4.public.', 1, true)
   then
      allow_with_proof = allow_with_proof + 1
   end
end

function done(summary, latency, requests)
   local totals = {}
   local non200_total, allow_total, exhausted_total, loaded_total = 0, 0, 0, 0
   local error_text = ""
   for _, thread in ipairs(threads) do
      for code, count in pairs(thread:get("statuses")) do
         totals[code] = (totals[code] or 0) + count
      end
      non200_total = non200_total + thread:get("non200")
      allow_total = allow_total + thread:get("allow_with_proof")
      exhausted_total = exhausted_total + thread:get("exhausted")
      loaded_total = loaded_total + thread:get("loaded")
      if error_text == "" then
         error_text = thread:get("first_error")
      end
   end
   local status_text = ""
   for code, count in pairs(totals) do
      status_text = status_text .. code .. ":" .. count .. ","
   end
   local errors = summary.errors
   io.write(string.format(
      "BENCH_RESULT duration_us=%d requests=%d bytes=%d loaded=%d exhausted=%d non200=%d"
         .. " allow_with_proof=%d err_connect=%d err_read=%d err_write=%d err_status=%d"
         .. " err_timeout=%d lat_min=%d lat_mean=%.1f lat_max=%d p50=%d p75=%d p90=%d"
         .. " p99=%d p999=%d statuses=%s\n",
      summary.duration, summary.requests, summary.bytes, loaded_total, exhausted_total,
      non200_total, allow_total, errors.connect, errors.read, errors.write, errors.status,
      errors.timeout, latency.min, latency.mean, latency.max,
      latency:percentile(50), latency:percentile(75), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9), status_text
   ))
   if error_text ~= "" then
      -- One line, so the driver can show why requests failed.
      io.write("BENCH_FIRST_ERROR " .. string.gsub(error_text, "[\r\n]", " ") .. "\n")
   end
end
