#!lua name=__LIBRARY__
-- The Meteorite Landings records' work inside Redis (FUNCTION LOAD), so that
-- the web replicas, held to 0.1 CPU, only pass bytes: store.py sends a body
-- to Redis as it arrives and calls these functions. store.py loads this file
-- with __LIBRARY__ replaced by a name that carries the digest of its text,
-- and calls <library>_<function>: a changed file is a new library, and an
-- older web replica keeps its own during a rolling update.
--
-- A load, all or nothing:
--   1. the web APPENDs the body to <load>@body (1 h TTL) and registers its
--      token in the loads hash;
--   2. step (called until it says done) reads the body a window at a time,
--      parses and checks the next records and stages them: their ids go to
--      the load's id set (ZADD NX: a duplicate id shows), the records, in
--      field order, to one MessagePack string per batch (<load>:<batch>);
--      a document step does not take on (an object with other members, an
--      escape it cannot decode, anything wrong) makes it answer 'slow', and
--      store.py reads the body with its own parser instead, which has the
--      exact error messages, and stages through `stage`;
--   3. commit, one call: refuses if another load or delete has finished
--      since this load began (its token is gone), else removes the old
--      records and writes the new ones, and the id set becomes the index.
-- Nothing is visible before commit; abort removes what a load left.
--
-- A record: a JSON object of string values with a non-empty "id", stored as
-- the hash <prefix><id>, fields in the order given (a repeated field keeps
-- its first place and last value, as Python's dict does).

-- Redis 7.0 runs a library's top level without the string library: the
-- callbacks fill these on first use.
local find, sub, byte, match

local function init()
  if find then return end
  find, sub, byte, match = string.find, string.sub, string.byte, string.match
end

local MAX_STRING = 1048576 -- longer keys or values go to store.py's parser
local WINDOW = 262144      -- bytes of the body read at a time (doubled for a longer record)
local UNPACK = 1000        -- arguments per command built with unpack()

-- "key": "value" then ',' or '}', with no escape and no control character.
local PLAIN_FIELD = '^[ \t\r\n]*"([^"\\%z\1-\31]*)"[ \t\r\n]*:[ \t\r\n]*"([^"\\%z\1-\31]*)"[ \t\r\n]*([,}])()'

local function skip_ws(s, p)
  local _, e = find(s, '^[ \t\r\n]*', p)
  return e + 1
end

-- The JSON string at p: its value and the position after it, or nil.
local function json_string(s, p)
  if byte(s, p) ~= 34 then return nil end
  local q = p + 1
  while true do
    local i = find(s, '["\\%z\1-\31]', q)
    if not i then return nil end
    local c = byte(s, i)
    if c == 34 then
      local raw = sub(s, p, i)
      if not find(raw, '\\', 1, true) then return sub(s, p + 1, i - 1), i + 1 end
      local ok, value = pcall(cjson.decode, raw) -- escapes; a lone surrogate fails
      if not ok or type(value) ~= 'string' then return nil end
      return value, i + 1
    elseif c == 92 then
      q = i + 2
    else
      return nil -- a raw control character
    end
  end
end

-- The record at p: its fields as a flat list, and the position after '}';
-- nil if it is not a valid record or does not end within s.
local function parse_record(s, p)
  p = skip_ws(s, p)
  if byte(s, p) ~= 123 then return nil end
  p = p + 1
  local fields, n, id = {}, 0, nil
  while true do
    local key, value, sep, after = match(s, PLAIN_FIELD, p)
    if not key then
      key, p = json_string(s, skip_ws(s, p))
      if not key then return nil end
      p = skip_ws(s, p)
      if byte(s, p) ~= 58 then return nil end
      value, p = json_string(s, skip_ws(s, p + 1))
      if not value then return nil end
      p = skip_ws(s, p)
      sep = sub(s, p, p)
      if sep ~= ',' and sep ~= '}' then return nil end
      after = p + 1
    end
    if #key > MAX_STRING or #value > MAX_STRING then return nil end
    fields[n + 1], fields[n + 2] = key, value
    n = n + 2
    if key == 'id' then id = value end
    p = after
    if sep == '}' then break end
  end
  if not id or id == '' then return nil end
  return fields, id, p
end

local function id_of(fields)
  local id
  for k = 1, #fields, 2 do
    if fields[k] == 'id' then id = fields[k + 1] end
  end
  return id
end

-- Stage a batch: ids into the load's id set (positions first...), the records
-- into <stage><batch>. False when an id was there already (a duplicate).
local function stage_batch(loadset, stage, ttl, first, batch, records)
  if #records == 0 then return true end
  local members = {}
  for i, fields in ipairs(records) do
    members[2 * i - 1] = first + i - 1
    members[2 * i] = id_of(fields)
  end
  local added = redis.call('ZADD', loadset, 'NX', unpack(members))
  redis.call('PEXPIRE', loadset, ttl)
  if added ~= #records then return false end
  redis.call('SET', stage .. batch, cmsgpack.pack(records), 'PX', ttl)
  return true
end

-- step KEYS: body, load id set; ARGV: stage prefix, ttl ms, byte position,
-- records staged so far, state, records per step, batch number.
-- State: 'start', then 'first' or 'obj-first' (just after '['), then 'next'
-- or 'obj-next' (after a ','). Answers {status, position, staged, state}
-- with status 'more', 'done' or 'slow'.
local function step(keys, args)
  init()
  local body, loadset = keys[1], keys[2]
  local stage, ttl = args[1], tonumber(args[2])
  local pos, staged, state = tonumber(args[3]), tonumber(args[4]), args[5]
  local count, batch = tonumber(args[6]), tonumber(args[7])
  local slow = {'slow', pos, staged, state}
  local size = redis.call('STRLEN', body)
  local window = WINDOW
  while true do
    local whole = pos + window >= size
    local s = redis.call('GETRANGE', body, pos, pos + window - 1)
    local p, at_state = 1, state
    if at_state == 'start' then
      p = skip_ws(s, p)
      local c = byte(s, p)
      if c == 91 then
        at_state, p = 'first', p + 1
      elseif c == 123 then
        local _, e = find(s, '^[ \t\r\n]*"meteorite_landings"[ \t\r\n]*:[ \t\r\n]*%[', p + 1)
        if not e then return slow end
        at_state, p = 'obj-first', e + 1
      else
        return slow
      end
    end
    local object = sub(at_state, 1, 4) == 'obj-'
    local records, taken, ended = {}, p, false
    while #records < count do
      local q = skip_ws(s, p)
      if byte(s, q) == 93 and (at_state == 'first' or at_state == 'obj-first') then
        taken, ended = q + 1, true
        break
      end
      local fields, _, after = parse_record(s, q)
      if not fields then break end
      after = skip_ws(s, after)
      local c = byte(s, after)
      if c ~= 44 and c ~= 93 then break end
      records[#records + 1] = fields
      p, taken = after + 1, after + 1
      at_state = object and 'obj-next' or 'next'
      if c == 93 then
        ended = true
        break
      end
    end
    if ended then
      -- The list is closed: then '}' for the object, then nothing but whitespace.
      local rest = redis.call('GETRANGE', body, pos + taken - 1, -1)
      if not find(rest, object and '^[ \t\r\n]*}[ \t\r\n]*$' or '^[ \t\r\n]*$') then return slow end
      if not stage_batch(loadset, stage, ttl, staged, batch, records) then return slow end
      return {'done', size, staged + #records, 'end'}
    end
    if #records > 0 then
      if not stage_batch(loadset, stage, ttl, staged, batch, records) then return slow end
      return {'more', pos + taken - 1, staged + #records, at_state}
    end
    if whole then return slow end -- not a record, even with the rest of the body
    window = window * 2
  end
end

-- stage KEYS: load id set; ARGV: stage prefix, ttl ms, position of the first
-- record, batch number, then each record as its field count and fields.
-- For records store.py parsed itself. Answers 'ok', or 'duplicate'.
local function stage(keys, args)
  init()
  local records, i = {}, 5
  while i <= #args do
    local n = tonumber(args[i])
    local fields = {}
    for k = 1, n do fields[k] = args[i + k] end
    records[#records + 1] = fields
    i = i + n + 1
  end
  local ok = stage_batch(keys[1], args[1], tonumber(args[2]), tonumber(args[3]), tonumber(args[4]), records)
  return ok and 'ok' or 'duplicate'
end

local function unlink_records(index, prefix)
  local ids = redis.call('ZRANGE', index, 0, -1)
  for i = 1, #ids, UNPACK do
    local keys = {}
    for j = i, math.min(i + UNPACK - 1, #ids) do keys[#keys + 1] = prefix .. ids[j] end
    redis.call('UNLINK', unpack(keys))
  end
  return #ids
end

local function hset(key, fields)
  for i = 1, #fields, UNPACK do
    redis.call('HSET', key, unpack(fields, i, math.min(i + UNPACK - 1, #fields)))
  end
end

-- commit KEYS: index, load id set, loads hash, body; ARGV: record prefix,
-- stage prefix, token, batches. Answers the number of records stored.
local function commit(keys, args)
  local index, loadset, loads, body = keys[1], keys[2], keys[3], keys[4]
  local prefix, stage_prefix, token, batches = args[1], args[2], args[3], tonumber(args[4])
  if redis.call('HEXISTS', loads, token) == 0 then
    return redis.error_reply('CONFLICT another load or delete ran at the same time; retry')
  end
  unlink_records(index, prefix)
  local stored = 0
  for b = 0, batches - 1 do
    local packed = redis.call('GET', stage_prefix .. b)
    if packed then
      local records, names = cmsgpack.unpack(packed), {}
      for i, fields in ipairs(records) do names[i] = prefix .. id_of(fields) end
      -- A hash already there under a new record's name (not one of the old
      -- records) must not lend it fields.
      for i = 1, #names, UNPACK do
        redis.call('UNLINK', unpack(names, i, math.min(i + UNPACK - 1, #names)))
      end
      for i, fields in ipairs(records) do hset(names[i], fields) end
      stored = stored + #records
      redis.call('DEL', stage_prefix .. b)
    end
  end
  if stored > 0 then
    redis.call('RENAME', loadset, index)
    redis.call('PERSIST', index)
  else
    redis.call('DEL', index, loadset)
  end
  redis.call('DEL', loads, body) -- every other running load now fails its commit
  return stored
end

-- abort KEYS: load id set, loads hash, body; ARGV: stage prefix, token,
-- batches; 'keep-body' as a fourth argument keeps the body (store.py then
-- parses it itself).
local function abort(keys, args)
  local stage_prefix, batches = args[1], tonumber(args[3])
  for b = 0, batches - 1 do redis.call('DEL', stage_prefix .. b) end
  redis.call('DEL', keys[1])
  if args[4] ~= 'keep-body' then
    redis.call('DEL', keys[3])
    redis.call('HDEL', keys[2], args[2])
  end
  return 'ok'
end

-- delete KEYS: index, loads hash; ARGV: record prefix. Answers how many.
local function delete(keys, args)
  local removed = unlink_records(keys[1], args[1])
  redis.call('DEL', keys[1], keys[2])
  return removed
end

-- read KEYS: index; ARGV: record prefix, first position, count. Answers
-- {ids read, text, form}. Form 'pairs': the text is cjson's encoding of the
-- records as lists of [name, value] pairs, [[["k","v"],["k","v"]],[...]],
-- which store.py turns into objects with four plain replacements (safe when
-- no string holds a quote, so every '"' is cjson's own); form 'objects', for
-- a batch where a string does hold one: the objects themselves, joined by
-- ','. cjson writes '/' as '\/' in both; store.py writes it back.
local function read(keys, args)
  init()
  local prefix, first, count = args[1], tonumber(args[2]), tonumber(args[3])
  local ids = redis.call('ZRANGE', keys[1], first, first + count - 1)
  local records = {}
  for _, id in ipairs(ids) do
    local h = redis.call('HGETALL', prefix .. id)
    if #h > 0 then
      local fields = {}
      for j = 1, #h, 2 do fields[#fields + 1] = {h[j], h[j + 1]} end
      records[#records + 1] = fields
    end
  end
  if #records == 0 then return {#ids, '', 'objects'} end
  local text = cjson.encode(records)
  if not find(text, '\\"', 1, true) then return {#ids, text, 'pairs'} end
  local out = {}
  for i, fields in ipairs(records) do
    local parts = {}
    for j, pair in ipairs(fields) do
      parts[j] = cjson.encode(pair[1]) .. ':' .. cjson.encode(pair[2])
    end
    out[i] = '{' .. table.concat(parts, ',') .. '}'
  end
  return {#ids, table.concat(out, ','), 'objects'}
end

local LIBRARY = '__LIBRARY__'
redis.register_function(LIBRARY .. '_step', step)
redis.register_function(LIBRARY .. '_stage', stage)
redis.register_function(LIBRARY .. '_commit', commit)
redis.register_function(LIBRARY .. '_abort', abort)
redis.register_function(LIBRARY .. '_delete', delete)
redis.register_function{function_name = LIBRARY .. '_read', callback = read, flags = {'no-writes'}}
