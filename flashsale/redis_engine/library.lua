#!lua name=flashsale

--[[
The flash sale's decisions, run inside Redis: every host's allocator sends its
batch of purchases in one FCALL, and stock, buyers, orders and outcomes change
together, atomically. Nothing is written before the whole batch has been read
and decided (a function does not roll back).

Keys: one hash tag (`{flashsale}` by default), so they share one cluster slot.
  TAG:current               the current sale's id
  TAG:next_sale             the last sale id given out
  TAG:sale:ID               hash: limit, starts, ends (-1: none), created, stock, catalogue
  TAG:sale:ID:stock         hash: sku -> its stock
  TAG:sale:ID:plimit        hash: sku -> its own per-user limit (absent: the sale's only)
  TAG:sale:ID:sold          hash: '#' (the whole sale) and each sku -> units sold
  TAG:sale:ID:buyers        hash: user id -> that user's orders (records, one per line)
  TAG:sale:ID:orders        list: every order's record, in position order
  TAG:sale:ID:requests      hash: request id (16 bytes) -> its decision, for the sale's life
  TAG:rate:USER             attempts of USER in its rate window (expires with the window)

An order's record: order_id TAB user TAB sku TAB position TAB sku_position TAB
unit TAB purchased_at_us. A decision: outcome TAB record (empty without an order).
User ids and skus never hold a tab or a line break (the API refuses them).
Outcomes are flashsale.outcomes.Outcome's values.
]]

local CONFIRMED, ALREADY_PURCHASED, SOLD_OUT, NOT_STARTED, ENDED, RATE_LIMITED = 0, 1, 2, 3, 4, 5
local EXPIRED, UNKNOWN_PRODUCT = 9, 10
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
-- Returns {sale id, the sold hash (flat), {decision of each purchase}}.
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
  local meta = redis.call('HMGET', base, 'limit', 'starts', 'ends')
  local limit, starts, ends = tonumber(meta[1]), tonumber(meta[2]), tonumber(meta[3])
  local now_text = now_us()
  local now = tonumber(now_text)

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
  local decisions, new_decisions, new_orders = {}, {}, {}
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
      elseif starts >= 0 and now < starts then
        outcome = NOT_STARTED
      elseif ends >= 0 and now >= ends then
        outcome = ENDED
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
  for j, user in ipairs(user_list) do
    if counted_users[user] then
      -- The window opens with the user's first counted attempt and expires with it.
      if redis.call('SET', rate_keys[j], attempts[user], 'XX', 'KEEPTTL') == false then
        redis.call('SET', rate_keys[j], attempts[user], 'PX', window_ms)
      end
    end
  end
  return {sale_id, flat_hash(base .. ':sold'), decisions}
end

-- KEYS[1]: TAG:current. ARGV: per-user limit, starts_at_us, ends_at_us (-1: none),
-- catalogue (JSON), then for each product: sku, stock, its own limit ('' none).
-- Returns {sale id, created_at_us}.
local function create_sale(current_key, args)
  local tag = tag_of(current_key)
  local sale_id = redis.call('INCR', tag .. ':next_sale')
  local base = tag .. ':sale:' .. sale_id
  local created = now_us()
  local stock_fields, plimit_fields, sold_fields, total = {}, {}, {WHOLE_SALE, 0}, 0
  for i = 5, #args, 3 do
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
  redis.call('HSET', base, 'limit', args[1], 'starts', args[2], 'ends', args[3],
             'created', created, 'stock', total, 'catalogue', args[4])
  redis.call('HSET', base .. ':stock', unpack(stock_fields))
  if #plimit_fields > 0 then redis.call('HSET', base .. ':plimit', unpack(plimit_fields)) end
  redis.call('HSET', base .. ':sold', unpack(sold_fields))
  redis.call('SET', current_key, sale_id)
  return {sale_id, created}
end

local function check_sale_args(args)
  if #args < 7 or (#args - 4) % 3 ~= 0 or not tonumber(args[1]) or not tonumber(args[2])
      or not tonumber(args[3]) then
    return false
  end
  for i = 5, #args, 3 do
    if #args[i] == 0 or not tonumber(args[i + 1]) then return false end
  end
  return true
end

local function start_sale(keys, args)
  if not check_sale_args(args) then
    return redis.error_reply('ERR flashsale_start_sale: malformed sale')
  end
  return create_sale(keys[1], args)
end

-- The first sale of a new store, unless one exists (several hosts may start at once).
local function first_sale(keys, args)
  if not check_sale_args(args) then
    return redis.error_reply('ERR flashsale_first_sale: malformed sale')
  end
  local current = redis.call('GET', keys[1])
  if current then return {current, 0} end
  return create_sale(keys[1], args)
end

-- What a host's shared memory follows: {current sale id or false, its sold hash}.
local function state(keys, args)
  local sale_id = redis.call('GET', keys[1])
  if not sale_id then return {false, {}} end
  return {sale_id, flat_hash(tag_of(keys[1]) .. ':sale:' .. sale_id .. ':sold')}
end

redis.register_function('flashsale_decide', decide)
redis.register_function('flashsale_start_sale', start_sale)
redis.register_function('flashsale_first_sale', first_sale)
redis.register_function{function_name = 'flashsale_state', callback = state, flags = {'no-writes'}}
