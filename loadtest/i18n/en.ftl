# stocklock's words in English. The Chinese twin is zh-CN.ftl: every
# message here is there too (a test checks). Messages named page-* are the
# dashboard's; they use plain text and { $name } only, no selectors, because
# the page fills them in itself. Glossary: docs/i18n.md.

## Lists

list-separator = {", "}

## Phases: names

phase-basic = { $backend }
phase-killed = { $backend } killed, fenced
phase-rung-naive = { $backend } naive
phase-rung-checked = { $backend } checked
phase-rung-renewed = { $backend } renewed
phase-rung-fenced = { $backend } fenced
phase-postgres-control = postgres control
phase-long-unrenewed = redis long-work unrenewed
phase-long-renewed = redis long-work renewed
phase-failover-unfenced = redis failover unfenced
phase-failover-fenced = redis failover fenced
phase-etcd-leader-killed = etcd leader killed
phase-redlock-one-killed = redlock one master killed
phase-redlock-three-killed = redlock three masters killed
phase-split-unfenced = redis split brain unfenced
phase-split-fenced = redis split brain fenced
phase-etcd-leader-cut = etcd leader cut off

## Phases: the question for the room

q-none = No lock, many buyers, read-check-write: how many units will be sold?
q-local = A mutex inside each instance. With two instances, is that a lock?
q-redis = One Redis, SET NX with a TTL. Safe? And what does it cost?
q-etcd = etcd's lock is a key in a replicated log. Faster or slower than Redis?
q-postgres = The database's own advisory lock. What does it cost next to Redis?
q-redlock = Five independent Redis masters, a majority needed. Safer than one?
q-atomic = No lock at all: one conditional UPDATE. Safe? Faster?
q-batch = The same UPDATE, for many orders at once. Faster than one at a time?
q-killed = The lock server dies mid-load and comes back. Lost orders? Oversold units?
q-rung-naive = A holder is paused past its lock's TTL. Who else gets the lock, and does the holder notice?
q-rung-checked = The holder checks that it still holds the lock just before writing. Is that enough?
q-rung-renewed = A watchdog renews the lock while its holder works. Enough when the holder itself is paused?
q-rung-fenced = PostgreSQL now refuses stale fencing tokens. Can a holder paused past its TTL still write?
q-postgres-control = The same pauses under PostgreSQL's own advisory lock, which has no TTL. What changes?
q-long-unrenewed = The work takes three times the lock's TTL, and nothing renews it. What happens to each order?
q-long-renewed = The same long work, now with a watchdog renewing the lock. Does every buyer get served?
q-failover-unfenced = Replication is cut and the replica promoted while a holder works. What does the next buyer see?
q-failover-fenced = The same failover, now with fencing tokens. Can the second holder still do harm?
q-etcd-leader-killed = etcd's leader dies mid-load. Two holders, or a pause?
q-redlock-one-killed = One master of five dies. Is it still a lock?
q-redlock-three-killed = Three masters of five die. Still a lock? Do orders stop?
q-split-unfenced = The network cuts the Redis primary and one instance off from everything else. Nothing crashes. Who sells?
q-split-fenced = The same split, now with fencing tokens. Two masters still grant locks: is anything oversold?
q-etcd-leader-cut = etcd's leader is cut off together with one instance. Who sells, and who is refused?

## How the load is generated

model-closed = closed model, { $buyers } buyers
model-open = open model, { $rate } orders/s

## Faults, as the page and the why sentences name them

fault-kill = kill { $server }
fault-start = start { $server }
fault-cut = cut { $server }
fault-failover = failover { $server }
fault-reset = reset { $server }
fault-partition = cut off { $server }
fault-heal = heal { $server }
fault-other = { $kind }
fault-pause = pause a holder

## Verdicts

verdict-safe = ✅ safe
verdict-inconclusive = ❔ inconclusive
verdict-no-oversell = ✅ no oversell
verdict-damage = ❌ { $damage }
verdict-damage-fail = ❌ { $damage } FAIL
verdict-books-off = ❌ books off FAIL
damage-oversold = oversold { $units }
damage-drift = stock off by { $units }
expect-must-be-safe = must be safe
expect-may-oversell = may oversell

## A broken promise, and what to try when nothing was proved

reason-separator = {"; "}
reason-oversold = oversold { $count } units
reason-drift = stock is off by { $count } (lost updates)
reason-overlaps = { $count } pairs of orders were inside the critical section at once
reason-acked-not-recorded = { $count } acknowledged orders are missing from the ledger
reason-unexplained = { $count } recorded orders were never acknowledged
reason-quantity = { $count } orders were recorded or answered with another quantity than requested
reason-units = { $count } units differ between the ledger and the clients' tally
reason-audit = the order list and the audit endpoint disagree
reason-database = the service's ledger and PostgreSQL disagree
hint-nothing-sold = nothing was sold, so nothing was tested: raise --acquire-timeout-ms or --ttl-ms, or check that the lock server answers
hint-no-oversell = no oversell this time: raise --buyers or --critical-section-ms to widen the race

## Why a verdict is what it is

cause-paused = { $paused } holders were paused (up to { $longest } ms)
cause-paused-ttl = { $paused } holders were paused (up to { $longest } ms, the lock's TTL is { $ttl } ms)
cause-fault-at = { $fault } at { $at } s
cause-fault-list = { $faults }
cause-none = no fault was injected
why-mixed-backends = the instances ran different backends: { $pairs } pairs of orders under two of them were inside the critical section at once ({ $oversold } units oversold, stock off by { $drift }); a lock protects only against those who take it
why-overlaps = { $cause }; { $pairs } pairs of orders were inside the critical section at once and both committed ({ $oversold } units oversold, stock off by { $drift })
why-no-exclusion = { $cause }; nothing excluded concurrent read-check-writes: { $oversold } units oversold, stock off by { $drift }
why-lock-lost = { $cause }; { $refused } orders found their lock lost before writing and were refused (409 lock_lost): nothing stale was committed
why-paused-alone = { $cause }; no second holder got in while they were
why-outage = { $cause }; { $refused } orders were refused with a 503 meanwhile, nothing was oversold or lost
why-recovery = { $why }; the longest wait for a sale was { $wait } s

## The instructor's pace (--pace)

pace-next = next: { $label }
pace-ask = ask the room: { $question }
pace-press = press Enter (or the dashboard's button) to start it

## The terminal's table

table-title = stocklock load test — scenario { $scenario }, { $model } over { $targets } target(s), { $skus } SKU(s) × { $stock }, quantity { $quantity }, critical section { $cs } ms
table-stock-units = { $units } units
table-stock-per-phase = stock per phase (see sold/stock)
col-verdict = verdict
col-phase = phase
col-expected = expected
col-sold = sold/stock
col-oversold = oversold
col-overlaps = overlaps
col-at-once = at once
col-created = 201
col-sold-out = 409
col-lock-lost = lock lost
col-lock-503 = 503 lock
col-overloaded = overloaded
col-other-503 = 503 other
col-401 = 401
col-other = other
col-unsent = unsent
col-no-answer = no answer
col-retry = retry/replay
col-503 = 503
col-rate = orders/s
col-p50 = p50 ms
col-p99 = p99 ms
table-fail = FAIL { $phase }: { $reasons }
table-note = note { $phase }: { $hint }
table-why = why  { $phase }: { $why }
table-latency = latency: of successful orders (201) only; every outcome's is in the JSON report
table-left-out = zero in every phase, not shown: { $columns }
table-at-once = at once: the most orders holding the lock at one instant (1: it held); every column: --wide
summary-failed = a backend that must be safe was not: see FAIL above
summary-inconclusive = no backend failed, but some sold nothing and proved nothing: see note above
summary-passed = every backend that must be safe was safe

## The dashboard (page-*)

page-title-live = stocklock — live
page-title-run = stocklock — { $name }
page-waiting-run = waiting for the load tester…
page-connecting = connecting
page-play = ▶ Play
page-pause = ⏸ Pause
page-speed = speed
page-projector = Projector
page-projector-hint = The header, the big numbers, the main chart and the board on one 1280×720 screen (key P)
page-views = Overview and phases (← → keys)
page-overview = Overview
page-next = Next:
page-ask = Ask the room:
page-start = ▶ Start this phase
page-start-hint = (or press Enter in the terminal)
page-overview-caption = Every phase: units sold as a share of the stock — above the dashed line is oversold
page-costs-caption = The cost of safety: the sales' orders per second and p99 latency
page-col-phase = phase
page-col-rate = orders/s
page-col-p99 = p99 ms
page-sold-of = of { $stock } units sold
page-oversold = oversold
page-oversold-alarm = ⚠ OVERSOLD
page-overlapping = overlapping holds
page-rate = orders/s
page-refused-rate = 503/s
page-units-caption = Units sold against the stock — above the dashed line is oversold
page-rates-caption = Answers per second
page-latency-caption = Latency of successful orders (ms)
page-timeline-caption = Who held the lock when — each bar one order, from reading the stock to writing it (PostgreSQL's clock)
page-key-held = held alone
page-key-overlap = hatched: held while another was
page-key-refused = refused, its lock lost
page-key-fault = shaded: a fault, from start to end
page-timeline-label = Who held the lock when, per instance
page-verdicts = Verdicts
page-col-verdict = verdict
page-col-expected = expected
page-col-sold = sold/stock
page-col-oversold = oversold
page-col-overlaps = overlaps
page-col-at-once = at once
page-col-lock-lost = lock lost
page-col-503 = 503
page-axis-seconds = seconds into the phase
page-axis-units = units
page-axis-per-second = per second
page-axis-ms = ms
page-axis-share = share of the stock sold
page-series-t = t (s)
page-series-sold = units sold (ledger)
page-series-stock = stock on sale
page-series-left = stock left
page-series-orders = orders
page-series-sold-out = 409 sold out
page-series-lock-lost = 409 lock lost
page-series-503 = 503
page-series-p50 = p50
page-series-p99 = p99
page-overflow = ↑ { $sold } sold: { $times }× the stock
page-overview-oversold = ⚠ OVERSOLD
page-overview-stock = the stock
page-overview-overflow = { $label } ↑ { $times }× the stock ({ $sold } of { $stock })
page-status-running = ⏳ running
page-status-next = ⏸ next
page-status-pending = · pending
page-run-line = scenario { $scenario } · { $model } · { $targets } instance(s)
page-waiting-instructor = ⏸ waiting for the instructor
page-live = ● live
page-replay = replay
page-replay-prefix = replay:
page-done-passed = ✔ finished: every backend that must be safe was safe
page-done-failed = ✖ finished: a backend that must be safe was NOT
page-follows = this tab follows the next run
page-no-answer = ⚠ the load tester does not answer
page-timeline-pending = Drawn from the ledger when the phase ends.
page-lane = { $lane }: { $holds } holds, { $overlapping } of them while another was open
page-lane-refused = , { $refused } ✕ refused (lock lost)
page-lane-crowded = — { $rows }+ at once in this lane
page-most-at-once = Most holders at once: { $most }.
page-first-holds = Showing the first { $shown } of { $total } holds.
page-no-holds = No order held a lock: this backend reads and writes in one statement.
page-hover-held = { $lane }: held { $from }–{ $to } s
page-hover-token = , fencing token { $token }
page-hover-overlap = — overlapped another holder
page-seconds = { $s } s
page-why = { $phase }: { $why }
page-fault-band = ⚡ { $fault }: { $from }–{ $to } s
page-fault-open = ⚡ { $fault }: from { $from } s to the end of the phase
