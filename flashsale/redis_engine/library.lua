#!lua name=flashsale

--[[
The flash sale's decisions, run inside Redis: every host's allocator sends its
batch of purchases in one FCALL, and stock, buyers, orders and outcomes change
together, atomically. Nothing is written before the whole batch has been read
and decided (a function does not roll back).

Keys: one hash tag (`{flashsale}` by default), so they share one cluster slot.
  TAG:current               the current sale's id
  TAG:next_sale             the last sale id given out
  TAG:sale:ID               hash: limit, starts, ends (-1: none), created, stock, catalogue,
                            and its lifecycle: phase (active, paused, ended), version (+1 on
                            each change), paused, ended (-1: none)
  TAG:sale:ID:changes       list: one entry per version: version TAB at_us TAB action TAB
                            phase TAB ends (the first holds the end as created)
  TAG:sale:ID:stock         hash: sku -> its stock
  TAG:sale:ID:plimit        hash: sku -> its own per-user limit (absent: the sale's only)
  TAG:sale:ID:sold          hash: '#' (the whole sale) and each sku -> units sold
  TAG:sale:ID:buyers        hash: user id -> that user's orders (records, one per line)
  TAG:sale:ID:orders        list: every order's record, in position order
  TAG:sale:ID:requests      hash: request id (16 bytes) -> its decision, for the sale's life
  TAG:rate:USER             attempts of USER in its rate window (expires with the window)
  TAG:idempotency:KEY       a new sale's Idempotency-Key: fingerprint TAB sale id (expires)
  TAG:audit                 list: the audit trail, one JSON entry per admin action (its
                            seq is its place in the list, from 1); never trimmed
  TAG:outbox:on             exists while webhooks are on (a host with a webhook URL sets it)
  TAG:outbox                stream: the webhook events, appended with their decisions
  TAG:outbox:lease          the host id of the one sender delivering (SET NX PX, renewed)
  TAG:outbox:through        stream id: every event up to it is finished (delivered or given up)
  TAG:outbox:finished       set: ids after `through` finished out of order
  TAG:outbox:finished_count events finished since the stream began (the backlog's other half)
  TAG:outbox:retrying       hash: id -> attempts TAB next try (us) TAB last error
  TAG:outbox:given_up       hash: id -> the given-up event's record (JSON), for the operator

An order's record: order_id TAB user TAB sku TAB position TAB sku_position TAB
unit TAB purchased_at_us. A decision: outcome TAB record (empty without an order).
User ids and skus never hold a tab or a line break (the API refuses them).
Outcomes are flashsale.outcomes.Outcome's values.
]]

local CONFIRMED, ALREADY_PURCHASED, SOLD_OUT, NOT_STARTED, ENDED, RATE_LIMITED = 0, 1, 2, 3, 4, 5
local EXPIRED, UNKNOWN_PRODUCT, PAUSED = 9, 10, 11
local WHOLE_SALE = '#'  -- the sold hash's field for the whole sale (no sku holds '#')

local function tag_of(current_key)
  return string.sub(current_key, 1, #current_key - #':current')
end

-- Redis's own clock, the same for every host; as text: Lua would print a number of
-- 16 digits in exponent form ('%.14g').
local function now_us()
  local time = redis.call('TIME')
  return string.format('%d', tonumber(time[1]) * 1000000 + tonumber(time[2]))
end

-- The webhook outbox (flashsale/redis_engine/outbox.py reads it): an event appended in
-- the same call as the decision that made it.
local function outbox_add(tag, kind, order_id, sale_id, at_us, data)
  -- data: a Lua table of the event's `data` fields, times as integer microseconds
  -- under keys ending in `Us` (purchasedAtUs, expiresAtUs); nothing is written
  -- unless the key TAG:outbox:on exists (set by a host with webhooks on).
  if redis.call('EXISTS', tag .. ':outbox:on') == 0 then return end
  redis.call('XADD', tag .. ':outbox', '*', 'type', kind, 'order', order_id or '',
    'sale', sale_id, 'at', at_us, 'data', cjson.encode(data))
end

local function uuid(request_id)
  local hex = string.gsub(request_id, '.', function(c) return string.format('%02x', string.byte(c)) end)
  return string.sub(hex, 1, 8) .. '-' .. string.sub(hex, 9, 12) .. '-' .. string.sub(hex, 13, 16)
    .. '-' .. string.sub(hex, 17, 20) .. '-' .. string.sub(hex, 21, 32)
end

local function parse_orders(text)
  local orders = {}
  if text then
    for line in string.gmatch(text, '[^\n]+') do
      local fields = {}
      for field in string.gmatch(line, '[^\t]+') do fields[#fields + 1] = field end
      orders[#orders + 1] = {line = line, sku = fields[3]}
    end
  end
  return orders
end

local function flat_hash(key)
  return redis.call('HGETALL', key)
end

-- KEYS[1]: TAG:current. ARGV: rate limit (0: off), rate window in ms, then for
-- each purchase: request id, user id, sku, expired ('1': sell nothing to it).
-- Returns {sale id, the sold hash (flat), {decision of each purchase}, the sale's version}.
local function decide(keys, args)
  local n = #args
  if n < 2 or (n - 2) % 4 ~= 0 then
    return redis.error_reply('ERR flashsale_decide: malformed batch of ' .. n .. ' arguments')
  end
  local rate_limit, window_ms = tonumber(args[1]), tonumber(args[2])
  if not rate_limit or not window_ms or window_ms < 1 then
    return redis.error_reply('ERR flashsale_decide: malformed rate limit')
  end
  for i = 3, n, 4 do
    if #args[i] ~= 16 or #args[i + 1] == 0 or #args[i + 2] == 0
        or (args[i + 3] ~= '0' and args[i + 3] ~= '1') then
      return redis.error_reply('ERR flashsale_decide: malformed purchase at argument ' .. i)
    end
  end
  local current_key = keys[1]
  local sale_id = redis.call('GET', current_key)
  if not sale_id then
    return redis.error_reply('NOSALE no sale has been started')
  end
  local tag = tag_of(current_key)
  local base = tag .. ':sale:' .. sale_id
  local meta = redis.call('HMGET', base, 'limit', 'starts', 'ends', 'phase', 'version')
  local limit, starts, ends = tonumber(meta[1]), tonumber(meta[2]), tonumber(meta[3])
  local phase, version = meta[4] or 'active', meta[5] or '1'
  local now_text = now_us()
  local now = tonumber(now_text)
  -- Webhooks off (the usual case): one look for the whole batch, no event made.
  local outbox_on = redis.call('EXISTS', tag .. ':outbox:on') == 1

  -- Read everything the batch needs.
  local count = (n - 2) / 4
  local ids, users, skus, expired = {}, {}, {}, {}
  local user_set, sku_set, user_list, sku_list = {}, {}, {}, {}
  for k = 1, count do
    local i = 3 + (k - 1) * 4
    ids[k], users[k], skus[k], expired[k] = args[i], args[i + 1], args[i + 2], args[i + 3] == '1'
    if not user_set[users[k]] then user_set[users[k]] = true; user_list[#user_list + 1] = users[k] end
    if not sku_set[skus[k]] then sku_set[skus[k]] = true; sku_list[#sku_list + 1] = skus[k] end
  end
  local stored = redis.call('HMGET', base .. ':requests', unpack(ids))
  local owned_text = redis.call('HMGET', base .. ':buyers', unpack(user_list))
  local stock_of = redis.call('HMGET', base .. ':stock', unpack(sku_list))
  local plimit_of = redis.call('HMGET', base .. ':plimit', unpack(sku_list))
  local sold_of = redis.call('HMGET', base .. ':sold', WHOLE_SALE, unpack(sku_list))
  local owned, attempts, rate_keys = {}, {}, {}
  for j, user in ipairs(user_list) do
    owned[user] = parse_orders(owned_text[j])
    rate_keys[j] = tag .. ':rate:' .. user
  end
  if rate_limit > 0 then
    local counted = redis.call('MGET', unpack(rate_keys))
    for j, user in ipairs(user_list) do attempts[user] = tonumber(counted[j]) or 0 end
  end
  local stock, plimit, sold = {}, {}, {}
  local sold_total = tonumber(sold_of[1]) or 0
  for j, sku in ipairs(sku_list) do
    stock[sku] = tonumber(stock_of[j])
    plimit[sku] = tonumber(plimit_of[j])
    sold[sku] = tonumber(sold_of[j + 1]) or 0
  end

  -- Decide, in the batch's order (its arrival order at the allocator).
  local decisions, new_decisions, new_orders, new_events = {}, {}, {}, {}
  local changed_users, counted_users = {}, {}
  for k = 1, count do
    local user, sku = users[k], skus[k]
    local decision
    if stored[k] then
      decision = stored[k]  -- sent again after a lost reply: the same outcome
    else
      local outcome, record = nil, ''
      if not stock[sku] then
        outcome = UNKNOWN_PRODUCT
      elseif phase == 'ended' or (ends >= 0 and now >= ends) then
        outcome = ENDED
      elseif phase == 'paused' then
        outcome = PAUSED
      elseif starts >= 0 and now < starts then
        outcome = NOT_STARTED
      elseif rate_limit > 0 and attempts[user] >= rate_limit then
        outcome = RATE_LIMITED
      else
        if rate_limit > 0 then
          attempts[user] = attempts[user] + 1
          counted_users[user] = true
        end
        local mine = owned[user]
        local of_product = nil
        if plimit[sku] then
          of_product = {}
          for _, order in ipairs(mine) do
            if order.sku == sku then of_product[#of_product + 1] = order end
          end
        end
        if #mine >= limit then
          outcome, record = ALREADY_PURCHASED, mine[1].line
        elseif of_product and #of_product >= plimit[sku] then
          outcome, record = ALREADY_PURCHASED, of_product[1].line
        elseif sold[sku] >= stock[sku] then
          outcome = SOLD_OUT
        elseif expired[k] then
          outcome = EXPIRED
        else
          sold_total = sold_total + 1
          sold[sku] = sold[sku] + 1
          record = table.concat({uuid(ids[k]), user, sku, sold_total, sold[sku], #mine + 1, now_text}, '\t')
          mine[#mine + 1] = {line = record, sku = sku}
          changed_users[user] = true
          new_orders[#new_orders + 1] = record
          if outbox_on then
            new_events[#new_events + 1] = {k = k, position = sold_total, sold_out = sold[sku] == stock[sku]}
          end
          outcome = CONFIRMED
        end
      end
      decision = outcome .. '\t' .. record
      new_decisions[#new_decisions + 1] = ids[k]
      new_decisions[#new_decisions + 1] = decision
      stored[k] = decision  -- the same request twice in one batch: decided once
      for later = k + 1, count do
        if ids[later] == ids[k] then stored[later] = decision end
      end
    end
    decisions[k] = decision
  end

  -- Write it all.
  if #new_decisions > 0 then
    redis.call('HSET', base .. ':requests', unpack(new_decisions))
  end
  if #new_orders > 0 then
    redis.call('RPUSH', base .. ':orders', unpack(new_orders))
    local buyers, sold_fields = {}, {WHOLE_SALE, sold_total}
    for user in pairs(changed_users) do
      local lines = {}
      for _, order in ipairs(owned[user]) do lines[#lines + 1] = order.line end
      buyers[#buyers + 1] = user
      buyers[#buyers + 1] = table.concat(lines, '\n')
    end
    for _, sku in ipairs(sku_list) do
      if stock[sku] then
        sold_fields[#sold_fields + 1] = sku
        sold_fields[#sold_fields + 1] = sold[sku]
      end
    end
    redis.call('HSET', base .. ':buyers', unpack(buyers))
    redis.call('HSET', base .. ':sold', unpack(sold_fields))
  end
  -- Each final sale's order.confirmed (flashsale.webhooks.events.order_confirmed's data)
  -- and a product's sale.sold_out when its last unit went.
  for _, made in ipairs(new_events) do
    local k = made.k
    local order_id, sale_number = uuid(ids[k]), tonumber(sale_id)
    outbox_add(tag, 'order.confirmed', order_id, sale_id, now_text,
      {orderId = order_id, saleId = sale_number, userId = users[k], sku = skus[k],
       position = made.position, purchasedAtUs = now_text, state = 'confirmed'})
    if made.sold_out then
      outbox_add(tag, 'sale.sold_out', nil, sale_id, now_text, {saleId = sale_number, sku = skus[k]})
    end
  end
  for j, user in ipairs(user_list) do
    if counted_users[user] then
      -- The window opens with the user's first counted attempt and expires with it.
      if redis.call('SET', rate_keys[j], attempts[user], 'XX', 'KEEPTTL') == false then
        redis.call('SET', rate_keys[j], attempts[user], 'PX', window_ms)
      end
    end
  end
  return {sale_id, flat_hash(base .. ':sold'), decisions, version}
end

-- A new sale from ARGV (from `first`): per-user limit, starts_at_us, ends_at_us (-1:
-- none), catalogue (JSON), then for each product: sku, stock, its own limit ('' none).
-- Returns its id.
local function create_sale(current_key, args, first, created)
  local tag = tag_of(current_key)
  local sale_id = redis.call('INCR', tag .. ':next_sale')
  local base = tag .. ':sale:' .. sale_id
  local stock_fields, plimit_fields, sold_fields, total = {}, {}, {WHOLE_SALE, 0}, 0
  for i = first + 4, #args, 3 do
    stock_fields[#stock_fields + 1] = args[i]
    stock_fields[#stock_fields + 1] = args[i + 1]
    sold_fields[#sold_fields + 1] = args[i]
    sold_fields[#sold_fields + 1] = 0
    total = total + tonumber(args[i + 1])
    if args[i + 2] ~= '' then
      plimit_fields[#plimit_fields + 1] = args[i]
      plimit_fields[#plimit_fields + 1] = args[i + 2]
    end
  end
  redis.call('HSET', base, 'limit', args[first], 'starts', args[first + 1],
             'ends', args[first + 2], 'created', created, 'stock', total,
             'catalogue', args[first + 3], 'phase', 'active', 'version', 1,
             'paused', -1, 'ended', -1)
  redis.call('HSET', base .. ':stock', unpack(stock_fields))
  if #plimit_fields > 0 then redis.call('HSET', base .. ':plimit', unpack(plimit_fields)) end
  redis.call('HSET', base .. ':sold', unpack(sold_fields))
  redis.call('RPUSH', base .. ':changes',
             table.concat({1, created, 'create', 'active', args[first + 2]}, '\t'))
  redis.call('SET', current_key, sale_id)
  return sale_id
end

-- The lifecycle of sale `base` and whether it has ended by `now` (phase, or past its end).
local function lifecycle(base, now)
  local meta = redis.call('HMGET', base, 'phase', 'version', 'ends', 'ended', 'starts', 'stock')
  local life = {phase = meta[1] or 'active', version = tonumber(meta[2] or '1'),
                ends = tonumber(meta[3]), ended = tonumber(meta[4] or '-1'),
                starts = tonumber(meta[5]), stock = tonumber(meta[6])}
  life.over = life.phase == 'ended' or (life.ends >= 0 and now >= life.ends)
  return life
end

local function etag(sale_id, version)
  return '"sale-' .. sale_id .. '-v' .. string.format('%d', version) .. '"'
end

-- A change of sale `base`: its fields set, its version + 1, the change appended.
local function change(base, life, now_text, action, fields)
  local version = life.version + 1
  fields[#fields + 1] = 'version'
  fields[#fields + 1] = version
  redis.call('HSET', base, unpack(fields))
  local after = redis.call('HMGET', base, 'phase', 'ends')
  redis.call('RPUSH', base .. ':changes',
             table.concat({version, now_text, action, after[1], after[2]}, '\t'))
end

-- Ended now: final, and its end brought forward to now if it was later.
local function end_sale(base, life, now, now_text, action)
  local ends = now_text
  if life.ends >= 0 and life.ends <= now then ends = string.format('%d', life.ends) end
  change(base, life, now_text, action, {'phase', 'ended', 'ended', now_text, 'paused', -1, 'ends', ends})
end

-- Replaced: a sale made before lifecycles were stored (no version) that a later one
-- followed, recorded as ended when that one was made, as the SQLite journal's upgrade does.
local function upgrade(tag)
  local last = tonumber(redis.call('GET', tag .. ':next_sale') or '0')
  for sale_id = 1, last do
    local base = tag .. ':sale:' .. sale_id
    local meta = redis.call('HMGET', base, 'version', 'created', 'ends')
    if meta[2] and not meta[1] then
      redis.call('HSET', base, 'phase', 'active', 'version', 1, 'paused', -1, 'ended', -1)
      redis.call('RPUSH', base .. ':changes', table.concat({1, meta[2], 'create', 'active', meta[3]}, '\t'))
      local later = redis.call('HGET', tag .. ':sale:' .. (sale_id + 1), 'created')
      local ends = tonumber(meta[3])
      if later and not (ends >= 0 and ends <= tonumber(later)) then
        local life = lifecycle(base, 0)
        change(base, life, later, 'replaced', {'phase', 'ended', 'ended', later, 'ends', later})
      end
    end
  end
end

-- A sale's arguments from ARGV[first] on.
local function check_sale_args(args, first)
  local n = #args - first + 1
  if n < 7 or (n - 4) % 3 ~= 0 or not tonumber(args[first]) or not tonumber(args[first + 1])
      or not tonumber(args[first + 2]) then
    return false
  end
  for i = first + 4, #args, 3 do
    if #args[i] == 0 or not tonumber(args[i + 1]) then return false end
  end
  return true
end

-- KEYS[1]: TAG:current; ARGV: a sale, as create_sale reads it. The current sale, if it
-- has not ended, is ended as replaced. Returns {sale id, created_at_us}. (The admin API
-- creates sales with flashsale_admin; this is the benchmarks' and the tests'.)
local function start_sale(keys, args)
  if not check_sale_args(args, 1) then
    return redis.error_reply('ERR flashsale_start_sale: malformed sale')
  end
  local current = redis.call('GET', keys[1])
  local now_text = now_us()
  if current then
    local base = tag_of(keys[1]) .. ':sale:' .. current
    local life = lifecycle(base, tonumber(now_text))
    if not life.over then end_sale(base, life, tonumber(now_text), now_text, 'replaced') end
  end
  return {create_sale(keys[1], args, 1, now_text), now_text}
end

-- The first sale of a new store, unless one exists (several hosts may start at once);
-- an older store's sales get their lifecycle.
local function first_sale(keys, args)
  if not check_sale_args(args, 1) then
    return redis.error_reply('ERR flashsale_first_sale: malformed sale')
  end
  upgrade(tag_of(keys[1]))
  local current = redis.call('GET', keys[1])
  if current then return {current, 0} end
  return {create_sale(keys[1], args, 1, now_us()), 0}
end

-- What a host's shared memory follows: {current sale id or false, its sold hash, its
-- lifecycle version}.
local function state(keys, args)
  local sale_id = redis.call('GET', keys[1])
  if not sale_id then return {false, {}, 0} end
  local base = tag_of(keys[1]) .. ':sale:' .. sale_id
  return {sale_id, flat_hash(base .. ':sold'), redis.call('HGET', base, 'version') or '1'}
end

-- The state an operator sees at `now` (flashsale.sale_lifecycle's order).
local function admin_state(base, life, now)
  if life.over then return 'ended' end
  if life.phase == 'paused' then return 'paused' end
  if life.starts >= 0 and now < life.starts then return 'scheduled' end
  local sold = tonumber(redis.call('HGET', base .. ':sold', WHOLE_SALE) or '0')
  if sold >= life.stock then return 'sold_out' end
  return 'open'
end

local function json_or_null(value)
  if value == nil then return 'null' end
  return cjson.encode(value)
end

local function present(value)
  return value ~= nil and value ~= cjson.null
end

-- Append an entry to the audit trail (flashsale.journal_sales.AuditEntry, as JSON).
local function audit(tag, now_text, action, attempted, sale_id, status, problem, replayed, context)
  local entry = '{"atUs":' .. now_text .. ',"action":' .. cjson.encode(action)
    .. ',"attempted":' .. json_or_null(attempted)
    .. ',"saleId":' .. (sale_id and string.format('%d', sale_id) or 'null')
    .. ',"status":' .. string.format('%d', status)
    .. ',"problem":' .. json_or_null(problem)
    .. ',"replayed":' .. (replayed and 'true' or 'false')
    .. ',"context":' .. context .. '}'
  redis.call('RPUSH', tag .. ':audit', entry)
end

-- An admin command's answer: {status, problem ('' when done), sale id (0: none), replayed
-- (0/1), at_us, {extension, value, ...} (values as text), the sale's hash (flat), its sold
-- hash (flat), its changes}.
local function answer(tag, status, problem, sale_id, replayed, now_text, extensions)
  local fields, sold, changes = {}, {}, {}
  if sale_id then
    local base = tag .. ':sale:' .. sale_id
    fields, sold = flat_hash(base), flat_hash(base .. ':sold')
    changes = redis.call('LRANGE', base .. ':changes', 0, 0)
  end
  return {status, problem or '', sale_id or 0, replayed and 1 or 0, now_text, extensions or {},
          fields, sold, changes}
end

local function refuse(tag, command, context, now_text, status, problem, sale_id, extensions)
  audit(tag, now_text, 'refused', command.attempted, sale_id, status, problem, false, context)
  return answer(tag, status, problem, nil, false, now_text, extensions)
end

-- If-Match against the sale's ETag (strong comparison; '*': any).
local function if_match_holds(tags, tag_now)
  if not present(tags) then return true end
  for _, tag in ipairs(tags) do
    if tag == '*' or tag == tag_now then return true end
  end
  return false
end

local function create_command(keys, args, command, context, now, now_text)
  local current_key = keys[1]
  local tag = tag_of(current_key)
  local key = command.idempotencyKey
  if present(key) then
    local known = redis.call('GET', tag .. ':idempotency:' .. key)
    if known then
      local fingerprint, sale_id = string.match(known, '^([^\t]*)\t(%d+)$')
      if fingerprint ~= command.fingerprint then
        return refuse(tag, command, context, now_text, 422, 'idempotency-key-reused',
                      tonumber(sale_id), {'saleId', sale_id})
      end
      audit(tag, now_text, 'create', 'create', tonumber(sale_id), 201, nil, true, context)
      return answer(tag, 201, nil, sale_id, true, now_text)
    end
  end
  if not check_sale_args(args, 3) then
    return redis.error_reply('ERR flashsale_admin: malformed sale')
  end
  local current = redis.call('GET', current_key)
  local base = tag .. ':sale:' .. current
  local life = lifecycle(base, now)
  local current_tag = etag(current, life.version)
  local replaces = command.replaces
  if (present(replaces) and tonumber(replaces) ~= tonumber(current))
      or not if_match_holds(command.ifMatch, current_tag) then
    return refuse(tag, command, context, now_text, 412, 'precondition-failed', tonumber(current),
                  {'saleId', current, 'etag', current_tag})
  end
  if not present(replaces) and not present(command.ifMatch) and not life.over then
    return refuse(tag, command, context, now_text, 409, 'sale-in-progress', tonumber(current),
                  {'saleId', current, 'state', admin_state(base, life, now), 'etag', current_tag})
  end
  local action = 'create'
  if not life.over then
    end_sale(base, life, now, now_text, 'replaced')
    action = 'replace'
  end
  local sale_id = create_sale(current_key, args, 3, now_text)
  if present(key) then
    redis.call('SET', tag .. ':idempotency:' .. key, command.fingerprint .. '\t' .. sale_id,
               'PX', command.keyTtlMs)
  end
  audit(tag, now_text, action, 'create', sale_id, 201, nil, false, context)
  return answer(tag, 201, nil, sale_id, false, now_text)
end

local function change_command(keys, command, context, now, now_text)
  local tag = tag_of(keys[1])
  local current = tonumber(redis.call('GET', keys[1]))
  local sale_id = tonumber(command.saleId)
  if not sale_id or sale_id < 1 or sale_id > current then
    return refuse(tag, command, context, now_text, 404, 'not-found', nil,
                  {'saleId', tostring(command.saleId)})
  end
  if sale_id ~= current then
    return refuse(tag, command, context, now_text, 409, 'sale-not-current', sale_id,
                  {'saleId', command.saleId, 'currentSaleId', current})
  end
  local base = tag .. ':sale:' .. current
  local life = lifecycle(base, now)
  local current_tag = etag(current, life.version)
  if not if_match_holds(command.ifMatch, current_tag) then
    return refuse(tag, command, context, now_text, 412, 'precondition-failed', current,
                  {'saleId', current, 'etag', current_tag})
  end
  if life.over then
    local ended = life.ended
    if ended < 0 then ended = life.ends end
    return refuse(tag, command, context, now_text, 409, 'sale-already-ended', current,
                  {'saleId', current, 'endedAtUs', string.format('%d', ended)})
  end
  local action = command.action
  if action == 'pause' then
    if life.phase ~= 'paused' then
      change(base, life, now_text, action, {'phase', 'paused', 'paused', now_text})
    end
  elseif action == 'resume' then
    if life.phase ~= 'active' then
      change(base, life, now_text, action, {'phase', 'active', 'paused', -1})
    end
  elseif action == 'end' then
    end_sale(base, life, now, now_text, action)
  elseif action == 'set_end' then
    local ends = -1
    if present(command.endsAtUs) then ends = tonumber(command.endsAtUs) end
    if ends >= 0 and ends <= now then
      return refuse(tag, command, context, now_text, 400, 'invalid-sale', current,
                    {'field', 'endsAt', 'reason', 'past'})
    end
    if ends >= 0 and life.starts >= 0 and ends <= life.starts then
      return refuse(tag, command, context, now_text, 400, 'invalid-sale', current,
                    {'field', 'endsAt', 'reason', 'not_after_start'})
    end
    if ends ~= life.ends then
      change(base, life, now_text, action, {'ends', string.format('%d', ends)})
    end
  else
    return redis.error_reply('ERR flashsale_admin: unknown action')
  end
  audit(tag, now_text, action, action, current, 200, nil, false, context)
  return answer(tag, 200, nil, current, false, now_text)
end

-- KEYS[1]: TAG:current. ARGV[1]: the command (JSON: flashsale.redis_engine.store), ARGV[2]:
-- its audit context (JSON), then for a creation the new sale as create_sale reads it.
-- Decided, recorded and audited at once: see `answer` for what it returns.
local function admin(keys, args)
  local ok, command = pcall(cjson.decode, args[1] or '')
  if not ok or type(command) ~= 'table' or not args[2] or not pcall(cjson.decode, args[2]) then
    return redis.error_reply('ERR flashsale_admin: malformed command')
  end
  if not redis.call('GET', keys[1]) then
    return redis.error_reply('NOSALE no sale has been started')
  end
  local context, now_text = args[2], now_us()
  local now = tonumber(now_text)
  if command.kind == 'create' then
    return create_command(keys, args, command, context, now, now_text)
  elseif command.kind == 'change' then
    return change_command(keys, command, context, now, now_text)
  elseif command.kind == 'refusal' and tonumber(command.status) and type(command.problem) == 'string' then
    local sale_id = nil
    if present(command.saleId) then sale_id = tonumber(command.saleId) end
    audit(tag_of(keys[1]), now_text, 'refused', command.attempted, sale_id,
          tonumber(command.status), command.problem, false, context)
    return answer(tag_of(keys[1]), tonumber(command.status), command.problem, nil, false, now_text)
  end
  return redis.error_reply('ERR flashsale_admin: malformed command')
end


-- The webhook sender's side of the outbox (flashsale/redis_engine/outbox.py): one sender
-- at a time across hosts, the holder of TAG:outbox:lease; its progress is written only
-- while it holds the lease, so a sender that lost it (stopped, cut off) changes nothing.

-- KEYS[1]: TAG:current. ARGV: host id, lease ms. Takes the lease if it is free, or keeps
-- it if this host holds it. Returns 1 if this host holds it now, else 0. With lease ms
-- 0, lets it go if this host holds it (a sender that stops).
local function outbox_lease(keys, args)
  local lease = tag_of(keys[1]) .. ':outbox:lease'
  if args[2] == '0' then
    if redis.call('GET', lease) == args[1] then redis.call('DEL', lease) end
    return 0
  end
  if redis.call('SET', lease, args[1], 'NX', 'PX', args[2]) then return 1 end
  if redis.call('GET', lease) == args[1] then
    redis.call('PEXPIRE', lease, args[2])
    return 1
  end
  return 0
end

-- Whether stream id `a` is at or before `b` ('ms-seq', both parts exact in a double).
local function id_at_or_before(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  a_ms, b_ms = tonumber(a_ms), tonumber(b_ms)
  return a_ms < b_ms or (a_ms == b_ms and tonumber(a_seq) <= tonumber(b_seq))
end

-- KEYS[1]: TAG:current. ARGV: host id, lease ms, what happened to event (stream id) ARGV[4]:
-- 'failed' (then attempts, next try in us, error), 'delivered', or 'gave_up' (then its
-- record as JSON). A finished event joins the finished set, and `through` moves over
-- every finished event that follows it. Returns 0 (nothing written) if the lease is
-- not this host's, else `through`.
local function outbox_record(keys, args)
  local out = tag_of(keys[1]) .. ':outbox'
  if redis.call('GET', out .. ':lease') ~= args[1] then return 0 end
  redis.call('PEXPIRE', out .. ':lease', args[2])
  local what, id = args[3], args[4]
  local through = redis.call('GET', out .. ':through') or '0-0'
  if what == 'failed' then
    redis.call('HSET', out .. ':retrying', id, args[5] .. '\t' .. args[6] .. '\t' .. args[7])
    return through
  end
  redis.call('HDEL', out .. ':retrying', id)
  if what == 'gave_up' then redis.call('HSET', out .. ':given_up', id, args[5]) end
  if id_at_or_before(id, through) or redis.call('SADD', out .. ':finished', id) == 0 then
    return through  -- finished before (a delivery sent again): counted once
  end
  redis.call('INCR', out .. ':finished_count')
  while true do
    local next_ones = redis.call('XRANGE', out, '(' .. through, '+', 'COUNT', 64)
    local moved = false
    for _, entry in ipairs(next_ones) do
      if redis.call('SREM', out .. ':finished', entry[1]) == 0 then break end
      through, moved = entry[1], true
    end
    if not moved or #next_ones < 64 or through ~= next_ones[#next_ones][1] then break end
  end
  redis.call('SET', out .. ':through', through)
  return through
end


redis.register_function('flashsale_decide', decide)
redis.register_function('flashsale_start_sale', start_sale)
redis.register_function('flashsale_first_sale', first_sale)
redis.register_function('flashsale_admin', admin)
redis.register_function{function_name = 'flashsale_state', callback = state, flags = {'no-writes'}}
redis.register_function('flashsale_outbox_lease', outbox_lease)
redis.register_function('flashsale_outbox_record', outbox_record)
