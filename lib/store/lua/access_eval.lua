-- flags: no-writes
-- access_eval (issue 17): access_facts.lua's answer on a Redis Cluster, where a request's
-- blocks, user, account, domains and grants live in up to three slots and no one script can
-- read them. policyd fetches those records with plain commands, each on its slot's primary
-- (lib/store/cluster_access.h), and calls this function with no keys, so it runs on any
-- primary: the same read_access (_access.lua) reads them through a reader over the records.
-- ARGV: decide.lua's ARGV 1-31 (as access_facts.lua), then the records
-- (lib/core/access_prefetch.h), each as ARGV elements of their own (binary-safe, nothing to
-- escape): KIND, KEY, N, then N pairs:
--   'h' a whole hash (HGETALL; N = 0: no such key): field, value
--   'f' some fields of a hash (HMGET): field, '=' .. value, or '' when the field is absent
--   'm' set memberships (SMISMEMBER): member, '1' or '0'
-- A read of anything not sent is an error, never a silent "absent": a request policyd planned
-- differently from read_access fails instead of answering wrongly.
-- Reply: access_facts.lua's (_access.lua access_reply).

local function prefetched_reader(argv, first)
  local hashes, fields, members = {}, {}, {}
  local i, n_argv = first, #argv
  while i <= n_argv do
    local kind, k, n = argv[i], argv[i + 1], tonumber(argv[i + 2])
    if not (k and n and n >= 0 and n == math.floor(n) and i + 2 + 2 * n <= n_argv) then
      error('access_eval: malformed record at ARGV[' .. i .. ']')
    end
    local t = {}
    for j = i + 3, i + 1 + 2 * n, 2 do
      local f, v = argv[j], argv[j + 1]
      if kind == 'h' then
        t[f] = v
      elseif kind == 'f' then
        t[f] = v ~= '' and string.sub(v, 2) or false
      elseif kind == 'm' then
        t[f] = v == '1'
      end
    end
    if kind == 'h' then hashes[k] = t
    elseif kind == 'f' then fields[k] = t
    elseif kind == 'm' then members[k] = t
    else error('access_eval: unknown record kind at ARGV[' .. i .. ']') end
    i = i + 3 + 2 * n
  end
  local function sent(v, what)
    if v == nil then error('access_eval: ' .. what .. ' was not prefetched') end
    return v
  end
  local function hash(k) return sent(hashes[k], k) end
  return {
    exists = function(keys)
      local c = 0
      for _, k in ipairs(keys) do
        if next(hash(k)) ~= nil then c = c + 1 end
      end
      return c
    end,
    hgetall = hash,
    hmget = function(k, ...)
      local t, out = hash(k), {}
      for j, f in ipairs({ ... }) do out[j] = t[f] or false end
      return out
    end,
    hget = function(k, f)
      if hashes[k] then return hashes[k][f] or false end
      return sent(sent(fields[k], k)[f], k .. ' field ' .. f)
    end,
    sismember = function(k, m)
      return sent(sent(members[k], k)[m], k .. ' member ' .. m) and 1 or 0
    end,
  }
end

return access_reply(read_access(access_request(ARGV, prefetched_reader(ARGV, 32))))
