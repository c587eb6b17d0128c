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
                            each change), paused, ended (-1: none); a sale with a waiting
                            room has queue (its terms' spec, JSON: see the waiting room below)
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
local EXPIRED, UNKNOWN_PRODUCT, PAUSED, HELD = 9, 10, 11, 12
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

-- An outbox event (the webhook sender reads the stream): written only when a host with
-- webhooks on has set TAG:outbox:on. data: the event's `data` fields, times as integer
-- microseconds under keys ending in `Us`.
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
      orders[#orders + 1] = {line = line, sku = fields[3], unit = fields[6], id = fields[1]}
    end
  end
  return orders
end

local function flat_hash(key)
  return redis.call('HGETALL', key)
end

--[[
Checkout holds (a sale whose hash has hold_s, extend_s; flashsale.checkout_rules are the
rules mirrored here). Keys of sale ID besides the above:
  TAG:sale:ID:hold:ORDER    hash: state (held, confirmed, cancelled, expired), exp (expires
                            at, us), ext (0/1), ref (paymentRef), line (the order's record
                            now), dig (an offered hold's token digest, hex; a bought hold's
                            token is a MAC of its order id the allocator checks), changed
  TAG:sale:ID:expiry        sorted set: held order id by expires at (us)
  TAG:sale:ID:top           hash: sku -> its highest unit slot ever taken
  TAG:sale:ID:free:SKU      sorted set: released slots of SKU (taken again first, lowest)
  TAG:sale:ID:counts        hash: held:SKU, waiting:SKU, expired:SKU, cancelled:SKU, offers
  TAG:sale:ID:released      hash: user -> that user's released orders (records, by line)
  TAG:sale:ID:wl:SKU        hash: n (entries), head (the first that may still wait), and
                            per place P: P:user, P:state (waiting, offered, closed),
                            P:order, P:dig (its waitlist token's digest), P:offer (the
                            digest of the checkout token its offered hold will have)
  TAG:sale:ID:wlusers       hash: user -> the skus of their entries (SKU TAB place, by line)
  TAG:sale:ID:wltokens      hash: waitlist token digest (hex) -> SKU TAB place
The buyers hash holds live orders only (held, confirmed): a released order no longer
counts against its buyer's limit. The sold hash counts live units. `position` is the
place in the orders list: every order, released ones too, as the SQLite journal's.
]]

local EXPIRE_BATCH = 250  -- due holds expired per call (the caller loops until none): a few ms

local function parse_line(line)
  local f = {}
  for field in string.gmatch(line, '[^\t]+') do f[#f + 1] = field end
  return f  -- order id, user, sku, position, sku_position, unit, purchased_at_us
end

local function hex_uuid(hex)
  return string.sub(hex, 1, 8) .. '-' .. string.sub(hex, 9, 12) .. '-' .. string.sub(hex, 13, 16)
    .. '-' .. string.sub(hex, 17, 20) .. '-' .. string.sub(hex, 21, 32)
end

-- The sale's terms a hold decision needs ({} hold_s nil: no checkout window).
local function terms_of(base)
  local m = redis.call('HMGET', base, 'limit', 'hold_s', 'extend_s', 'phase', 'starts', 'ends',
                       'wl_closed')
  return {limit = tonumber(m[1]), hold_s = tonumber(m[2]), extend_s = tonumber(m[3]),
          phase = m[4] or 'active', starts = tonumber(m[5]), ends = tonumber(m[6]),
          wl_closed = m[7] == '1'}
end

local function user_orders(base, user)
  return parse_orders(redis.call('HGET', base .. ':buyers', user))
end

local function set_user_orders(base, user, mine)
  if #mine == 0 then
    redis.call('HDEL', base .. ':buyers', user)
    return
  end
  local lines = {}
  for _, order in ipairs(mine) do lines[#lines + 1] = order.line end
  redis.call('HSET', base .. ':buyers', user, table.concat(lines, '\n'))
end

-- The buyer's lowest unit slot no live order of theirs holds.
local function free_unit(mine)
  local used = {}
  for _, order in ipairs(mine) do used[tonumber(order.unit)] = true end
  local unit = 1
  while used[unit] do unit = unit + 1 end
  return unit
end

local function take_slot(base, sku)
  local popped = redis.call('ZPOPMIN', base .. ':free:' .. sku)
  if #popped > 0 then return tonumber(popped[1]) end
  return redis.call('HINCRBY', base .. ':top', sku, 1)
end

local function count(base, field, by)
  return redis.call('HINCRBY', base .. ':counts', field, by)
end

local function order_data(sale_id, f, state, extra)
  local data = {orderId = f[1], saleId = tonumber(sale_id), userId = f[2], sku = f[3],
                position = tonumber(f[4]), purchasedAtUs = f[7], state = state}
  for k, v in pairs(extra or {}) do data[k] = v end
  return data
end

-- Make the order of record `line` a hold until now + hold_s (`digest`: an offered
-- hold's token digest). Returns its expiry (text).
local function make_hold(tag, base, sale_id, line, now, now_text, hold_s, digest)
  local f = parse_line(line)
  local exp = string.format('%d', now + hold_s * 1000000)
  local key = base .. ':hold:' .. f[1]
  redis.call('HSET', key, 'state', 'held', 'exp', exp, 'ext', 0, 'line', line, 'changed', now_text)
  if digest then redis.call('HSET', key, 'dig', digest) end
  redis.call('ZADD', base .. ':expiry', exp, f[1])
  count(base, 'held:' .. f[3], 1)
  outbox_add(tag, 'order.held', f[1], sale_id, now_text,
             order_data(sale_id, f, 'held', {expiresAtUs = exp}))
  return exp
end

local function close_waitlist(base, sku)
  local wl = base .. ':wl:' .. sku
  local n = tonumber(redis.call('HGET', wl, 'n') or '0')
  local head = tonumber(redis.call('HGET', wl, 'head') or '1')
  for place = head, n do
    if redis.call('HGET', wl, place .. ':state') == 'waiting' then
      redis.call('HSET', wl, place .. ':state', 'closed')
    end
  end
  if n > 0 then redis.call('HSET', wl, 'head', n + 1) end
  redis.call('HSET', base .. ':counts', 'waiting:' .. sku, 0)
end

local function close_waitlists(base)
  for _, sku in ipairs(redis.call('HKEYS', base .. ':stock')) do close_waitlist(base, sku) end
  redis.call('HSET', base, 'wl_closed', 1)
end

-- A unit of `sku` came back: to the first waiting entry of its waitlist as a new hold
-- (a new order, a new position, a full hold_s), or back to stock (the waitlist closed
-- when no hold is left to come back).
local function offer(tag, base, sale_id, sku, now, now_text, terms)
  local wl = base .. ':wl:' .. sku
  local n = tonumber(redis.call('HGET', wl, 'n') or '0')
  local head = tonumber(redis.call('HGET', wl, 'head') or '1')
  local plimit = tonumber(redis.call('HGET', base .. ':plimit', sku) or '')
  while head <= n do
    local e = redis.call('HMGET', wl, head .. ':user', head .. ':state', head .. ':offer')
    if e[2] == 'waiting' then
      local user = e[1]
      local mine = user_orders(base, user)
      local of_product = 0
      for _, order in ipairs(mine) do
        if order.sku == sku then of_product = of_product + 1 end
      end
      if #mine >= terms.limit or (plimit and of_product >= plimit) then
        redis.call('HSET', wl, head .. ':state', 'closed')  -- bought enough meanwhile
        count(base, 'waiting:' .. sku, -1)
      else
        local order_id = hex_uuid(redis.sha1hex(base .. '\t' .. sku .. '\t' .. head))
        local position = redis.call('LLEN', base .. ':orders') + 1
        local line = table.concat({order_id, user, sku, position, take_slot(base, sku),
                                   free_unit(mine), now_text}, '\t')
        redis.call('RPUSH', base .. ':orders', line)
        mine[#mine + 1] = {line = line, sku = sku, unit = free_unit(mine), id = order_id}
        set_user_orders(base, user, mine)
        redis.call('HINCRBY', base .. ':sold', sku, 1)
        redis.call('HINCRBY', base .. ':sold', WHOLE_SALE, 1)
        local exp = make_hold(tag, base, sale_id, line, now, now_text, terms.hold_s, e[3])
        redis.call('HSET', wl, head .. ':state', 'offered', head .. ':order', order_id,
                   'head', head + 1)
        count(base, 'waiting:' .. sku, -1)
        count(base, 'offers', 1)
        outbox_add(tag, 'waitlist.offered', order_id, sale_id, now_text,
                   {orderId = order_id, saleId = tonumber(sale_id), userId = user, sku = sku,
                    place = head, expiresAtUs = exp})
        return
      end
    end
    head = head + 1
  end
  if n > 0 then redis.call('HSET', wl, 'head', head) end
  if tonumber(redis.call('HGET', base .. ':counts', 'held:' .. sku) or '0') == 0 then
    close_waitlist(base, sku)
  end
end

-- Held order `order_id` ends as `state` (expired, cancelled): its slot goes back, it
-- no longer counts against its buyer, and its unit is offered.
local function release(tag, base, sale_id, order_id, state, now, now_text, terms)
  local key = base .. ':hold:' .. order_id
  local h = redis.call('HMGET', key, 'state', 'line')
  if h[1] ~= 'held' then return false end
  local f = parse_line(h[2])
  local user, sku = f[2], f[3]
  redis.call('HSET', key, 'state', state, 'changed', now_text)
  redis.call('ZREM', base .. ':expiry', order_id)
  count(base, 'held:' .. sku, -1)
  count(base, state .. ':' .. sku, 1)
  redis.call('HINCRBY', base .. ':sold', sku, -1)
  redis.call('HINCRBY', base .. ':sold', WHOLE_SALE, -1)
  redis.call('ZADD', base .. ':free:' .. sku, f[5], f[5])
  local kept = {}
  for _, order in ipairs(user_orders(base, user)) do
    if order.id ~= order_id then kept[#kept + 1] = order end
  end
  set_user_orders(base, user, kept)
  local released = redis.call('HGET', base .. ':released', user)
  redis.call('HSET', base .. ':released', user, released and (released .. '\n' .. h[2]) or h[2])
  outbox_add(tag, state == 'expired' and 'order.expired' or 'order.cancelled', order_id, sale_id,
             now_text, order_data(sale_id, f, state))
  offer(tag, base, sale_id, sku, now, now_text, terms)
  return true
end

-- Expire at most `limit` holds due at `now`; returns how many expired.
local function expire_due(tag, base, sale_id, now, now_text, terms, limit)
  local due = redis.call('ZRANGEBYSCORE', base .. ':expiry', '-inf', now_text, 'LIMIT', 0, limit)
  local expired = 0
  for _, order_id in ipairs(due) do
    if release(tag, base, sale_id, order_id, 'expired', now, now_text, terms) then
      expired = expired + 1
    end
  end
  return expired
end

-- Once the sale's endsAt has come, its waitlists close (an operator's end: at once).
local function close_at_end(base, terms, now)
  if terms.hold_s and not terms.wl_closed and terms.ends and terms.ends >= 0
      and now >= terms.ends then
    close_waitlists(base)
    terms.wl_closed = true
  end
end

--[[
The waiting room (a sale whose hash has `queue`: the JSON of flashsale.records.QueueTerms's
spec). flashsale.allocator.waiting_room's rules, mirrored here and decided by Redis's clock,
so every host admits the same people in the same order. Keys of sale ID besides the above:
  TAG:sale:ID:room          hash: where the room stands: n (tickets issued), shuffled (the
                            draw, us), serving (the highest place admitted), budget
                            (admissions counted up to, us), closed (us), changes (+1 on
                            each change a page shows); absent: not yet (budget: the start)
  TAG:sale:ID:qusers        hash: user -> their ticket's number (one ticket a person)
  TAG:sale:ID:qtickets      hash: per ticket N (1, 2, ... in joining order): N:user,
                            N:joined, N:place, N:admitted, N:used (us; absent: not yet)
  TAG:sale:ID:qorder        list: ticket numbers by place (place P at index P - 1): the
                            drawn pre-queue, then later joiners in arrival order
  TAG:sale:ID:proof:SHA1    a proof of work's nonce (its SHA-1) that bought a ticket:
                            good for one, kept until its challenge has surely expired
Before the draw every ticket is in the pre-queue: tickets 1..n, none with a place. The
draw needs randomness Redis has not (math.random is no cryptographic source): a host's
allocator draws the order with secrets.SystemRandom, and flashsale_queue_tick applies it
only if nobody has drawn yet and the pre-queue is still the n tickets it was drawn from.
]]

local NOT_ADMITTED = 13
local PREQUEUE_PAGE = 1000000000000  -- journal_queue.page_key: a page's key past the places
local CHUNK = 1000  -- items per command: unpack puts them on Lua's stack

local function us(value)
  return string.format('%d', value)
end

local function round(value)
  return math.floor(value + 0.5)
end

local function present_or_nil(value)
  if value == nil or value == cjson.null then return nil end
  return value
end

-- A sale's waiting room terms (nil: it has none; a queue needs a start).
local function queue_terms(base)
  local m = redis.call('HMGET', base, 'queue', 'starts', 'ends', 'phase', 'stock')
  if not m[1] or m[1] == '' or tonumber(m[2]) < 0 then return nil end
  local spec = cjson.decode(m[1])
  return {shuffle = spec.shuffle == true, rate = present_or_nil(spec.admitPerMinute),
          opens = present_or_nil(spec.opensAtUs), starts = tonumber(m[2]), ends = tonumber(m[3]), phase = m[4] or 'active',
          stock = tonumber(m[5])}
end

local function room_of(base, q)
  local m = redis.call('HMGET', base .. ':room', 'n', 'shuffled', 'serving', 'budget', 'closed',
                       'changes')
  return {n = tonumber(m[1] or '0'), shuffled = tonumber(m[2] or ''),
          serving = tonumber(m[3] or '0'), budget = tonumber(m[4] or '') or q.starts,
          closed = tonumber(m[5] or ''), changes = tonumber(m[6] or '0')}
end

local function save_room(base, room)
  room.changes = room.changes + 1
  local fields = {'n', room.n, 'serving', room.serving, 'budget', us(room.budget),
                  'changes', room.changes}
  if room.shuffled then
    fields[#fields + 1] = 'shuffled'
    fields[#fields + 1] = us(room.shuffled)
  end
  if room.closed then
    fields[#fields + 1] = 'closed'
    fields[#fields + 1] = us(room.closed)
  end
  redis.call('HSET', base .. ':room', unpack(fields))
end

-- Closed at once (the sell-out, an operator's end), if it was open.
local function close_room(base, now_text)
  if redis.call('HSETNX', base .. ':room', 'closed', now_text) == 1 then
    redis.call('HINCRBY', base .. ':room', 'changes', 1)
  end
end

local function hset_chunked(key, fields)
  for first = 1, #fields, 2 * CHUNK do
    redis.call('HSET', key, unpack(fields, first, math.min(first + 2 * CHUNK - 1, #fields)))
  end
end

-- Admit whoever is due at `now` (WaitingRoom._admit): a token bucket of `rate` a minute,
-- at most a second's worth at once, or every place at once without a rate. With nobody
-- to admit (or the sale paused) the time does not count: the budget moves to now, written
-- by a call that writes anyway (`write_idle`: a join, the draw) or at the resume; a tick
-- alone writes nothing then. Returns whether anyone was admitted.
local function admit(base, q, room, now, write_idle)
  local top = redis.call('LLEN', base .. ':qorder')
  if q.phase == 'paused' or room.serving >= top then
    if write_idle and q.rate and room.budget < now then
      room.budget = now
      redis.call('HSET', base .. ':room', 'budget', us(now))
    end
    return false
  end
  local count
  if not q.rate then
    count = top - room.serving
  else
    local interval = 60000000 / q.rate
    local most = math.max(1, math.ceil(q.rate / 60))  -- a second's worth
    local due = math.floor((now - room.budget) / interval)
    if due <= 0 then return false end
    if due > most then
      due = most
      room.budget = now - round(most * interval)
    end
    count = math.min(due, top - room.serving)
    if count < due then  -- the queue ran out: what is left lapses
      room.budget = now
    else
      room.budget = room.budget + round(count * interval)
    end
  end
  local first = room.serving
  room.serving = first + count
  local fields, at = {}, us(now)
  for _, number in ipairs(redis.call('LRANGE', base .. ':qorder', first, room.serving - 1)) do
    fields[#fields + 1] = number .. ':admitted'
    fields[#fields + 1] = at
  end
  hset_chunked(base .. ':qtickets', fields)
  save_room(base, room)
  return true
end

-- The pre-queue's places: `order` lists tickets 1..n in their drawn order (nil: in
-- arrival order, a room without shuffle).
local function draw(base, q, room, now, order)
  local places, numbers = {}, {}
  for place = 1, room.n do
    local number = order and order[place] or place
    numbers[#numbers + 1] = number
    places[#places + 1] = number .. ':place'
    places[#places + 1] = place
  end
  for first = 1, #numbers, CHUNK do
    redis.call('RPUSH', base .. ':qorder', unpack(numbers, first, math.min(first + CHUNK - 1, #numbers)))
  end
  hset_chunked(base .. ':qtickets', places)
  room.shuffled = now
  room.budget = math.max(q.starts, math.min(now, room.budget))
  save_room(base, room)
end

-- The order a host drew (ARGV text: ticket numbers, comma-separated) if it is one of
-- tickets 1..n, each once; nil else.
local function parse_order(text, n)
  local order, seen = {}, {}
  for item in string.gmatch(text or '', '[^,]+') do
    local number = tonumber(item)
    if not number or number < 1 or number > n or number % 1 ~= 0 or seen[number] then
      return nil
    end
    seen[number] = true
    order[#order + 1] = number
  end
  if #order ~= n then return nil end
  return order
end

-- WaitingRoom.tick: close once sold out or over, draw at the start, admit whoever is due
-- (`write_idle`: admit's). Returns 'draw' when the pre-queue is to be drawn and no `order`
-- for it was given (with shuffle, the caller's), else whether anything changed.
local function tick(base, q, room, now, order, write_idle)
  if room.closed then return false end
  local sold = tonumber(redis.call('HGET', base .. ':sold', WHOLE_SALE) or '0')
  if sold >= q.stock or q.phase == 'ended' or (q.ends >= 0 and now >= q.ends) then
    room.closed = now
    save_room(base, room)
    return true
  end
  if room.shuffled then return admit(base, q, room, now, write_idle) end
  if now < q.starts then return false end
  if q.shuffle and not order then return 'draw' end
  draw(base, q, room, now, q.shuffle and order or nil)
  admit(base, q, room, now, true)
  return true
end

-- When a tick next has something to do (WaitingRoom.next_change_us; '' nothing).
local function next_change(q, room, top, now)
  if room.closed then return '' end
  if not room.shuffled then return us(q.starts) end
  if room.serving >= top then return '' end
  if not q.rate then return us(now) end
  return us(room.budget + math.ceil(60000000 / q.rate))
end

-- {n, shuffled, serving, budget, closed, changes, places given, next change} ('': none).
local function room_reply(base, q, room, now)
  local top = redis.call('LLEN', base .. ':qorder')
  return {room.n, room.shuffled and us(room.shuffled) or '', room.serving, us(room.budget),
          room.closed and us(room.closed) or '', room.changes, top, next_change(q, room, top, now)}
end

-- {number, user, joined, place, admitted, used} of ticket `number` ('': not yet).
local function ticket_reply(base, number)
  local n = tostring(number)
  local t = redis.call('HMGET', base .. ':qtickets', n .. ':user', n .. ':joined', n .. ':place',
                       n .. ':admitted', n .. ':used')
  return {n, t[1], t[2], t[3] or '', t[4] or '', t[5] or ''}
end

-- A queue function's answer: {status (0: the pre-queue is to be drawn first; 404 the sale
-- has no waiting room; else 200), problem ('' none), sale id, Redis's now (us), the room
-- (room_reply's; {} none), {each command's {status, problem ('' none), ticket_reply
-- ({} none)}}}.
local function room_answer(status, problem, sale_id, now_text, room, answers)
  return {status, problem or '', sale_id, now_text, room or {}, answers or {}}
end

-- The current sale's waiting room at Redis's clock: {sale_id, base, now_text, now, q,
-- room}; or nil and the reply to give instead (no sale, or a sale without a queue).
local function current_room(current_key)
  local sale_id = redis.call('GET', current_key)
  if not sale_id then return nil, redis.error_reply('NOSALE no sale has been started') end
  local base = tag_of(current_key) .. ':sale:' .. sale_id
  local now_text = now_us()
  local q = queue_terms(base)
  if not q then return nil, room_answer(404, 'no-queue', sale_id, now_text) end
  return {sale_id = sale_id, base = base, now_text = now_text, now = tonumber(now_text), q = q,
          room = room_of(base, q)}
end

-- KEYS[1]: TAG:current. ARGV: '' (a tick), or the sale id, n and order (parse_order's
-- text) of a draw this host made of that sale's pre-queue of n tickets. Any host's
-- allocator may call it, at any time: it does what is due by Redis's clock, once.
-- Returns room_answer's, status 0 when the pre-queue is to be drawn first (again, if it
-- was not the one the order was drawn from).
local function queue_tick(keys, args)
  local at, refusal = current_room(keys[1])
  if not at then return refusal end
  local sale_id, base, now_text, now = at.sale_id, at.base, at.now_text, at.now
  local q, room = at.q, at.room
  local order = nil
  if args[1] and args[1] ~= '' and args[1] == sale_id and tonumber(args[2]) == room.n then
    order = parse_order(args[3], room.n)
    if not order then return redis.error_reply('ERR flashsale_queue_tick: malformed order') end
  end
  local ticked = tick(base, q, room, now, order, false)
  return room_answer(ticked == 'draw' and 0 or 200, nil, sale_id, now_text,
                     room_reply(base, q, room, now))
end

-- `user`'s ticket (200), or a new one (201): in the pre-queue until the draw, after it
-- the next place. `proof`: the nonce of the proof of work the worker checked ('' none),
-- good for one new ticket. Refused: 403 proof-of-work-invalid (its nonce bought a
-- ticket already), 410 queue-closed, 409 queue-not-open (before opensAt).
local function join_one(base, q, room, now, now_text, user, proof, proof_kept_ms)
  local known = redis.call('HGET', base .. ':qusers', user)
  if known then return {200, '', ticket_reply(base, known)} end
  local proof_key = proof ~= '' and (base .. ':proof:' .. redis.sha1hex(proof))
  if proof_key and redis.call('EXISTS', proof_key) == 1 then
    return {403, 'proof-of-work-invalid', {}}
  end
  if room.closed then return {410, 'queue-closed', {}} end
  if q.opens and now < q.opens then return {409, 'queue-not-open', {}} end
  local number = room.n + 1
  local fields = {number .. ':user', user, number .. ':joined', now_text}
  if room.shuffled then
    fields[#fields + 1] = number .. ':place'
    fields[#fields + 1] = redis.call('RPUSH', base .. ':qorder', number)
  end
  redis.call('HSET', base .. ':qtickets', unpack(fields))
  redis.call('HSET', base .. ':qusers', user, number)
  if proof_key then redis.call('SET', proof_key, 1, 'PX', proof_kept_ms) end
  room.n = number
  return {201, '', ticket_reply(base, number)}
end

-- Ticket `number` if `user` holds it (the worker checked its signature); 404 else.
local function read_one(base, number, user)
  local ticket = ticket_reply(base, number)
  if ticket[2] ~= user then return {404, 'unknown-ticket', {}} end
  return {200, '', ticket}
end

-- KEYS[1]: TAG:current. ARGV[1]: how long a spent proof of work is kept (ms), then
-- shoppers' commands of the current sale's waiting room, in the order they came, three
-- arguments each: 'join', a user id and the nonce of their proof of work ('' none), or
-- a ticket's number, its holder and '' (a read). Decided after a tick, so a join at the
-- start comes after the draw: status 0 (nothing decided) when the caller is to draw
-- first. Returns room_answer's, with each command's answer.
local function queue_commands(keys, args)
  local proof_kept_ms = tonumber(args[1])
  if not proof_kept_ms or #args < 4 or (#args - 1) % 3 ~= 0 then
    return redis.error_reply('ERR flashsale_queue_commands: malformed commands')
  end
  local at, refusal = current_room(keys[1])
  if not at then return refusal end
  local sale_id, base, now_text, now = at.sale_id, at.base, at.now_text, at.now
  local q, room = at.q, at.room
  -- A ticket added: with nobody due, the bucket's time counts from now (write_idle).
  local adds = false
  for i = 2, #args, 3 do
    if args[i] == 'join' and redis.call('HEXISTS', base .. ':qusers', args[i + 1]) == 0 then
      adds = true
    end
  end
  if tick(base, q, room, now, nil, adds) == 'draw' then
    return room_answer(0, nil, sale_id, now_text, room_reply(base, q, room, now))
  end
  local answers, issued = {}, room.n
  for i = 2, #args, 3 do
    if args[i] == 'join' then
      answers[#answers + 1] = join_one(base, q, room, now, now_text, args[i + 1], args[i + 2],
                                       proof_kept_ms)
    else
      answers[#answers + 1] = read_one(base, args[i], args[i + 1])
    end
  end
  if room.n > issued then save_room(base, room) end
  return room_answer(200, nil, sale_id, now_text, room_reply(base, q, room, now), answers)
end

-- KEYS[1]: TAG:current. ARGV: sale id, after (journal_queue.page_key's), limit. A page of
-- the recorded order (journal_queue.tickets_by_place): tickets by place after `after`,
-- then those without a place (the pre-queue before its draw) by number. Returns
-- {the room ({} none), {ticket_reply of each}}. Writes nothing.
local function queue_page(keys, args)
  local base = tag_of(keys[1]) .. ':sale:' .. args[1]
  local after, limit = tonumber(args[2]), tonumber(args[3])
  if not after or not limit or limit < 1 then
    return redis.error_reply('ERR flashsale_queue_page: malformed page')
  end
  local q = queue_terms(base)
  if not q or redis.call('EXISTS', base .. ':room') == 0 then return {{}, {}} end
  local room = room_of(base, q)
  local numbers = {}
  if after < PREQUEUE_PAGE then
    numbers = redis.call('LRANGE', base .. ':qorder', after, after + limit - 1)
  end
  if #numbers < limit and not room.shuffled then
    local from = math.max(after - PREQUEUE_PAGE, 0) + 1
    for number = from, math.min(room.n, from + limit - #numbers - 1) do
      numbers[#numbers + 1] = number
    end
  end
  local tickets = {}
  for _, number in ipairs(numbers) do tickets[#tickets + 1] = ticket_reply(base, number) end
  return {room_reply(base, q, room, 0), tickets}
end

-- The purchase's gate (WaitingRoom.admits): `user` may buy at `now` with their ticket if
-- it is admitted, within admittedSeconds, unused and the room open. Its number, or nil.
local function gate_of(base, queue_json)
  local spec = cjson.decode(queue_json)
  local m = redis.call('HMGET', base .. ':room', 'serving', 'closed')
  return {base = base, admitted_us = spec.admittedSeconds * 1000000,
          serving = tonumber(m[1] or '0'), closed = m[2] ~= false, used = {}}
end

local function admitted_ticket(gate, user, now)
  if gate.closed or gate.used[user] then return nil end
  local number = redis.call('HGET', gate.base .. ':qusers', user)
  if not number then return nil end
  local t = redis.call('HMGET', gate.base .. ':qtickets', number .. ':place',
                       number .. ':admitted', number .. ':used')
  local place, admitted = tonumber(t[1] or ''), tonumber(t[2] or '')
  if t[3] or not place or place > gate.serving or not admitted
      or now >= admitted + gate.admitted_us then
    return nil
  end
  return number
end

-- This person bought: their admission ends (in the call that sold).
local function use_ticket(gate, user, now_text)
  local number = redis.call('HGET', gate.base .. ':qusers', user)
  redis.call('HSET', gate.base .. ':qtickets', number .. ':used', now_text)
  gate.used[user] = true
end

-- The sale resumed: the paused time does not count for admissions (the ticks while it
-- was paused wrote nothing).
local function resume_room(base, now)
  if redis.call('HEXISTS', base, 'queue') == 0 then return end
  local m = redis.call('HMGET', base .. ':room', 'shuffled', 'budget', 'closed')
  if m[1] and not m[3] and tonumber(m[2]) < now then
    redis.call('HSET', base .. ':room', 'budget', us(now))
  end
end

-- KEYS[1]: TAG:current. ARGV: rate limit (0: off), rate window in ms, then for
-- each purchase: request id, user id, sku, expired ('1': sell nothing to it).
-- Returns {sale id, the sold hash (flat), {decision of each purchase}, the sale's version,
-- the counts hash (flat; a sale with holds)}. In a sale with a checkout window a winner's
-- order is held (outcome 12), its decision followed by a line break and its expiry; the
-- holds due are expired first.
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
  local meta = redis.call('HMGET', base, 'limit', 'starts', 'ends', 'phase', 'version', 'hold_s',
                         'queue', 'stock')
  local limit, starts, ends = tonumber(meta[1]), tonumber(meta[2]), tonumber(meta[3])
  local phase, version = meta[4] or 'active', meta[5] or '1'
  local now_text = now_us()
  local now = tonumber(now_text)
  -- A sale with a waiting room sells only to admitted tickets' holders.
  local gate = nil
  if meta[7] and meta[7] ~= '' then gate = gate_of(base, meta[7]) end
  -- Webhooks off (the usual case): one look for the whole batch, no event made.
  local outbox_on = redis.call('EXISTS', tag .. ':outbox:on') == 1
  local hold_s = tonumber(meta[6])  -- nil: no checkout window, a sale is final
  local position = 0
  if hold_s then
    -- Due holds expire before anything is decided, and their units go to the waitlists
    -- (a batch of them at most: thousands due at once are flashsale_expire's, call by
    -- call, so that purchases are decided between them).
    local terms = terms_of(base)
    close_at_end(base, terms, now)
    expire_due(tag, base, sale_id, now, now_text, terms, EXPIRE_BATCH)
    position = redis.call('LLEN', base .. ':orders')
  end

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
      if hold_s and string.sub(decision, 1, 3) == HELD .. '\t' then
        -- The hold as it is now: confirmed since, or its expiry (extended).
        local record = string.match(decision, '^%d+\t([^\n]*)')
        local h = redis.call('HMGET', base .. ':hold:' .. parse_line(record)[1], 'state', 'exp', 'line')
        if h[1] == 'confirmed' then
          decision = CONFIRMED .. '\t' .. h[3]
        elseif h[1] then
          decision = HELD .. '\t' .. h[3] .. '\n' .. h[2]
        end
      end
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
        elseif gate and not admitted_ticket(gate, user, now) then
          outcome = NOT_ADMITTED
        elseif expired[k] then
          outcome = EXPIRED
        elseif hold_s then
          if gate then use_ticket(gate, user, now_text) end
          sold_total = sold_total + 1
          sold[sku] = sold[sku] + 1
          position = position + 1
          local order_id, unit = uuid(ids[k]), free_unit(mine)
          record = table.concat({order_id, user, sku, position, take_slot(base, sku), unit, now_text}, '\t')
          mine[#mine + 1] = {line = record, sku = sku, unit = unit, id = order_id}
          changed_users[user] = true
          new_orders[#new_orders + 1] = record
          local exp = make_hold(tag, base, sale_id, record, now, now_text, hold_s, nil)
          if sold[sku] == stock[sku] then
            outbox_add(tag, 'sale.sold_out', nil, sale_id, now_text, {saleId = tonumber(sale_id), sku = sku})
          end
          outcome = HELD
          record = record .. '\n' .. exp
        else
          if gate then use_ticket(gate, user, now_text) end
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
  if gate and not gate.closed and sold_total >= tonumber(meta[8]) then
    close_room(base, now_text)  -- sold out: nobody more is admitted to buy nothing
  end
  for j, user in ipairs(user_list) do
    if counted_users[user] then
      -- The window opens with the user's first counted attempt and expires with it.
      if redis.call('SET', rate_keys[j], attempts[user], 'XX', 'KEEPTTL') == false then
        redis.call('SET', rate_keys[j], attempts[user], 'PX', window_ms)
      end
    end
  end
  return {sale_id, flat_hash(base .. ':sold'), decisions, version,
          hold_s and flat_hash(base .. ':counts') or {}}
end

-- A new sale from ARGV (from `first`): per-user limit, starts_at_us, ends_at_us (-1:
-- none), catalogue (JSON), hold_s and extend_s of its checkout window ('' '': none), its
-- waiting room (QueueTerms's spec as JSON; '': none), then for each product: sku, stock,
-- its own limit ('' none).
-- Returns its id.
local function create_sale(current_key, args, first, created)
  local tag = tag_of(current_key)
  local sale_id = redis.call('INCR', tag .. ':next_sale')
  local base = tag .. ':sale:' .. sale_id
  local stock_fields, plimit_fields, sold_fields, total = {}, {}, {WHOLE_SALE, 0}, 0
  for i = first + 7, #args, 3 do
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
  if args[first + 4] ~= '' then
    redis.call('HSET', base, 'hold_s', args[first + 4], 'extend_s', args[first + 5])
  end
  if args[first + 6] ~= '' then redis.call('HSET', base, 'queue', args[first + 6]) end
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
  if redis.call('HEXISTS', base, 'hold_s') == 1 then
    close_waitlists(base)  -- nobody waiting will be served now
  end
  if redis.call('HEXISTS', base, 'queue') == 1 then
    close_room(base, now_text)  -- nobody more is admitted
  end
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
  if n < 10 or (n - 7) % 3 ~= 0 or not tonumber(args[first]) or not tonumber(args[first + 1])
      or not tonumber(args[first + 2])
      or (args[first + 4] ~= '' and not (tonumber(args[first + 4]) and tonumber(args[first + 5]))) then
    return false
  end
  if args[first + 6] ~= '' then
    local ok, spec = pcall(cjson.decode, args[first + 6])
    if not ok or type(spec) ~= 'table' or type(spec.admittedSeconds) ~= 'number' then
      return false
    end
  end
  for i = first + 7, #args, 3 do
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
-- lifecycle version, its counts hash (holds)}.
local function state(keys, args)
  local sale_id = redis.call('GET', keys[1])
  if not sale_id then return {false, {}, 0, {}} end
  local base = tag_of(keys[1]) .. ':sale:' .. sale_id
  return {sale_id, flat_hash(base .. ':sold'), redis.call('HGET', base, 'version') or '1',
          flat_hash(base .. ':counts')}
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
      resume_room(base, now)
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

-- KEYS[1]: TAG:current. Expires at most EXPIRE_BATCH holds of the current sale due by
-- Redis's clock (and closes its waitlists once it has ended). Every host's allocator may
-- call it: it changes nothing twice. Returns {sale id, how many expired, the next expiry
-- ('' none), the sold hash (flat), the counts hash (flat)}.
local function expire(keys, args)
  local sale_id = redis.call('GET', keys[1])
  if not sale_id then return {0, 0, '', {}, {}} end
  local tag = tag_of(keys[1])
  local base = tag .. ':sale:' .. sale_id
  local terms = terms_of(base)
  if not terms.hold_s then return {sale_id, 0, '', {}, {}} end
  local now_text = now_us()
  local now = tonumber(now_text)
  close_at_end(base, terms, now)
  local expired = expire_due(tag, base, sale_id, now, now_text, terms, EXPIRE_BATCH)
  local next_due = redis.call('ZRANGE', base .. ':expiry', 0, 0, 'WITHSCORES')
  return {sale_id, expired, next_due[2] or '', flat_hash(base .. ':sold'),
          flat_hash(base .. ':counts')}
end

local function hold_of(base, order_id)
  local h = redis.call('HMGET', base .. ':hold:' .. order_id, 'state', 'exp', 'ext', 'ref', 'line', 'dig')
  if not h[1] then return nil end
  return {state = h[1], exp = h[2], ext = h[3] == '1', ref = h[4] or nil, line = h[5], dig = h[6] or nil}
end

local function shown_hold(hold)
  return {state = hold.state, exp = hold.exp, ext = hold.ext, ref = hold.ref or cjson.null,
          line = hold.line}
end

local function refused(status, problem, ext, hold, order_id)
  ext = ext or {}
  if hold then ext.orderId, ext.state = order_id, hold.state end
  return {status = status, problem = problem, ext = ext}
end

local function confirm_hold(tag, base, sale_id, order_id, hold, ref, now, now_text, terms)
  local f = parse_line(hold.line)
  local sku = f[3]
  if hold.state == 'held' then
    redis.call('HSET', base .. ':hold:' .. order_id, 'state', 'confirmed', 'ref', ref, 'changed', now_text)
    redis.call('ZREM', base .. ':expiry', order_id)
    local held = count(base, 'held:' .. sku, -1)
    outbox_add(tag, 'order.confirmed', order_id, sale_id, now_text,
               order_data(sale_id, f, 'confirmed', {paymentRef = ref}))
    if held == 0 then close_waitlist(base, sku) end  -- no hold is left to come back
    return nil
  end
  if hold.state == 'confirmed' then
    if hold.ref == ref then return nil end
    return refused(409, 'payment-ref-mismatch', {}, hold, order_id)
  end
  if hold.state == 'expired' then
    -- A late confirm takes a unit back when one is free now and nobody waits for it,
    -- within its buyer's limits; else the buyer paid for nothing.
    local user = f[2]
    local live = tonumber(redis.call('HGET', base .. ':sold', sku) or '0')
    local stock = tonumber(redis.call('HGET', base .. ':stock', sku))
    local waiting = tonumber(redis.call('HGET', base .. ':counts', 'waiting:' .. sku) or '0')
    local mine = user_orders(base, user)
    local of_product = 0
    for _, order in ipairs(mine) do
      if order.sku == sku then of_product = of_product + 1 end
    end
    local plimit = tonumber(redis.call('HGET', base .. ':plimit', sku) or '')
    local within = #mine < terms.limit and (not plimit or of_product < plimit)
    if not (within and live < stock and waiting == 0) then
      return refused(409, 'hold-expired', {outcome = 'hold_expired', refundRequired = true}, hold, order_id)
    end
    f[5], f[6] = take_slot(base, sku), free_unit(mine)
    local line = table.concat(f, '\t')
    redis.call('HSET', base .. ':hold:' .. order_id, 'state', 'confirmed', 'ref', ref, 'line', line,
               'changed', now_text)
    redis.call('LSET', base .. ':orders', tonumber(f[4]) - 1, line)
    mine[#mine + 1] = {line = line, sku = sku, unit = f[6], id = order_id}
    set_user_orders(base, user, mine)
    local released, kept = redis.call('HGET', base .. ':released', user) or '', {}
    for other in string.gmatch(released, '[^\n]+') do
      if parse_line(other)[1] ~= order_id then kept[#kept + 1] = other end
    end
    if #kept > 0 then
      redis.call('HSET', base .. ':released', user, table.concat(kept, '\n'))
    else
      redis.call('HDEL', base .. ':released', user)
    end
    count(base, 'expired:' .. sku, -1)
    redis.call('HINCRBY', base .. ':sold', WHOLE_SALE, 1)
    local now_live = redis.call('HINCRBY', base .. ':sold', sku, 1)
    outbox_add(tag, 'order.confirmed', order_id, sale_id, now_text,
               order_data(sale_id, f, 'confirmed', {paymentRef = ref}))
    if now_live == stock then
      outbox_add(tag, 'sale.sold_out', nil, sale_id, now_text, {saleId = tonumber(sale_id), sku = sku})
    end
    return nil
  end
  return refused(409, 'hold-cancelled', {outcome = 'hold_cancelled', refundRequired = true}, hold, order_id)
end

local function entry_json(wl, sku, place)
  local e = redis.call('HMGET', wl, place .. ':state', place .. ':order')
  local shown = {sku = sku, place = place, state = e[1]}
  if e[2] then shown.orderId = e[2] end
  return shown
end

local function join(tag, base, sale_id, command, now, terms)
  local sku, user = command.sku, command.userId
  local stock = tonumber(redis.call('HGET', base .. ':stock', sku))
  if not stock then
    return {status = 404, problem = 'unknown-product',
            ext = {detail = string.format('%q is not a product of this sale', sku)}}
  end
  local wl = base .. ':wl:' .. sku
  local known = redis.call('HGET', wl, 'u:' .. user)
  if known then return {status = 200, entry = entry_json(wl, sku, tonumber(known))} end
  local over = terms.phase == 'ended' or (terms.ends >= 0 and now >= terms.ends)
  local open_now = terms.hold_s and not over and terms.phase ~= 'paused'
    and not (terms.starts >= 0 and now < terms.starts)
  local live = tonumber(redis.call('HGET', base .. ':sold', sku) or '0')
  local held = tonumber(redis.call('HGET', base .. ':counts', 'held:' .. sku) or '0')
  local reason = nil
  if not open_now then reason = 'ended'
  elseif live < stock then reason = 'not sold out'
  elseif held == 0 then reason = 'nothing held' end
  if reason then return {status = 409, problem = 'waitlist-closed', ext = {reason = reason}} end
  local place = redis.call('HINCRBY', wl, 'n', 1)
  redis.call('HSET', wl, 'u:' .. user, place, place .. ':user', user, place .. ':state', 'waiting',
             place .. ':dig', command.digest, place .. ':offer', command.offerDigest,
             place .. ':joined', string.format('%d', now))
  redis.call('HSETNX', wl, 'head', 1)
  count(base, 'waiting:' .. sku, 1)
  local mine = redis.call('HGET', base .. ':wlusers', user)
  local line = sku .. '\t' .. place
  redis.call('HSET', base .. ':wlusers', user, mine and (mine .. '\n' .. line) or line)
  redis.call('HSET', base .. ':wltokens', command.digest, line)
  return {status = 201, entry = entry_json(wl, sku, place)}
end

-- KEYS[1]: TAG:current. ARGV[1]: a buyer's command (JSON: command confirm, cancel, extend
-- or join; orderId; shop (the shop's token was presented) or presented (the digest, hex,
-- of the token presented) and expected (the digest of the order's MAC token); paymentRef;
-- userId, sku, digest and offerDigest of a new waitlist entry). Decided by the rules of
-- flashsale.checkout_rules, by Redis's clock. Returns {answer (JSON: status, problem,
-- ext, hold {state, exp, ext, ref, line}, entry), sale id, sold hash, counts hash}.
local function checkout(keys, args)
  local ok, command = pcall(cjson.decode, args[1] or '')
  if not ok or type(command) ~= 'table' or type(command.command) ~= 'string' then
    return redis.error_reply('ERR flashsale_checkout: malformed command')
  end
  local sale_id = redis.call('GET', keys[1])
  if not sale_id then return redis.error_reply('NOSALE no sale has been started') end
  local tag = tag_of(keys[1])
  local base = tag .. ':sale:' .. sale_id
  local terms = terms_of(base)
  local now_text = now_us()
  local now = tonumber(now_text)
  local answer
  if command.command == 'join' then
    answer = join(tag, base, sale_id, command, now, terms)
  else
    local order_id = command.orderId
    local hold = terms.hold_s and type(order_id) == 'string' and hold_of(base, order_id)
    if not hold then
      answer = {status = 404, problem = 'unknown-order',
                ext = {detail = string.format('there is no order %q', tostring(order_id))}}
    elseif command.shop ~= true and command.presented ~= (hold.dig or command.expected) then
      answer = {status = 403, problem = 'invalid-checkout-token',
                ext = {detail = "this checkout token is not the order's"}}
    else
      close_at_end(base, terms, now)
      -- A hold due now has expired, whether or not an allocator has got to it yet.
      if hold.state == 'held' and tonumber(hold.exp) <= now then
        release(tag, base, sale_id, order_id, 'expired', now, now_text, terms)
        hold = hold_of(base, order_id)
      end
      local refusal = nil
      if command.command == 'confirm' then
        refusal = confirm_hold(tag, base, sale_id, order_id, hold, command.paymentRef or '', now,
                               now_text, terms)
      elseif command.command == 'cancel' then
        if hold.state == 'held' then
          release(tag, base, sale_id, order_id, 'cancelled', now, now_text, terms)
        elseif hold.state == 'expired' then
          refusal = refused(409, 'hold-expired', {outcome = 'hold_expired'}, hold, order_id)
        elseif hold.state == 'confirmed' then
          refusal = refused(409, 'order-confirmed', {}, hold, order_id)
        end
      elseif command.command == 'extend' then
        if hold.state == 'confirmed' then
          refusal = refused(409, 'order-confirmed', {}, hold, order_id)
        elseif hold.state == 'expired' then
          refusal = refused(409, 'hold-expired', {outcome = 'hold_expired'}, hold, order_id)
        elseif hold.state == 'cancelled' then
          refusal = refused(409, 'hold-cancelled', {}, hold, order_id)
        elseif (terms.extend_s or 0) <= 0 then
          refusal = refused(409, 'hold-not-extendable', {}, hold, order_id)
        elseif hold.ext then
          refusal = refused(409, 'hold-already-extended', {}, hold, order_id)
        else
          local exp = string.format('%d', tonumber(hold.exp) + terms.extend_s * 1000000)
          redis.call('HSET', base .. ':hold:' .. order_id, 'exp', exp, 'ext', 1)
          redis.call('ZADD', base .. ':expiry', exp, order_id)
        end
      else
        return redis.error_reply('ERR flashsale_checkout: unknown command')
      end
      answer = refusal or {status = 200, hold = shown_hold(hold_of(base, order_id))}
    end
  end
  return {cjson.encode(answer), sale_id, flat_hash(base .. ':sold'), flat_hash(base .. ':counts')}
end


redis.register_function('flashsale_decide', decide)
redis.register_function('flashsale_expire', expire)
redis.register_function('flashsale_checkout', checkout)
redis.register_function('flashsale_start_sale', start_sale)
redis.register_function('flashsale_first_sale', first_sale)
redis.register_function('flashsale_admin', admin)
redis.register_function{function_name = 'flashsale_state', callback = state, flags = {'no-writes'}}
redis.register_function('flashsale_outbox_lease', outbox_lease)
redis.register_function('flashsale_queue_tick', queue_tick)
redis.register_function('flashsale_queue_commands', queue_commands)
redis.register_function{function_name = 'flashsale_queue_page', callback = queue_page,
                        flags = {'no-writes'}}
redis.register_function('flashsale_outbox_record', outbox_record)
