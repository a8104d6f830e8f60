# stocklock 的简体中文文案。与 en.ftl 一一对应：那里的每条消息这里都有（有测试检查）。
# 以 page- 开头的消息属于仪表盘页面，只用纯文本和 { $name }，不用选择器。
# 术语表：docs/i18n.md（超卖、分布式锁、租约、续期、围栏令牌、脑裂……）。

## 列表

list-separator = {"，"}

## 阶段：名称

phase-basic = { $backend }
phase-killed = { $backend } 被杀（有围栏）
phase-rung-naive = { $backend } 朴素
phase-rung-checked = { $backend } 写前检查
phase-rung-renewed = { $backend } 续期
phase-rung-fenced = { $backend } 围栏
phase-postgres-control = postgres 对照组
phase-long-unrenewed = redis 长任务（不续期）
phase-long-renewed = redis 长任务（续期）
phase-failover-unfenced = redis 故障转移（无围栏）
phase-failover-fenced = redis 故障转移（有围栏）
phase-etcd-leader-killed = etcd 领导者被杀
phase-redlock-one-killed = redlock 一个主节点被杀
phase-redlock-three-killed = redlock 三个主节点被杀
phase-split-unfenced = redis 脑裂（无围栏）
phase-split-fenced = redis 脑裂（有围栏）
phase-etcd-leader-cut = etcd 领导者被隔离

## 阶段：问全场的问题

q-none = 不加锁，很多买家，先读、再检查、后写：会卖出多少件？
q-local = 每个实例内部一把互斥锁。有两个实例时，这还算锁吗？
q-redis = 一个 Redis，SET NX 加 TTL。安全吗？代价是多少？
q-etcd = etcd 的锁是复制日志里的一个键。比 Redis 快还是慢？
q-postgres = 数据库自己的咨询锁（advisory lock）。和 Redis 相比代价如何？
q-redlock = 五个相互独立的 Redis 主节点，要拿到多数。比一个更安全吗？
q-atomic = 完全不加锁：一条带条件的 UPDATE。安全吗？更快吗？
q-batch = 同一条 UPDATE，一次处理很多订单。比逐个处理更快吗？
q-killed = 锁服务器在压测中途宕机又恢复。会丢订单吗？会超卖吗？
q-rung-naive = 一个锁持有者暂停得比锁的 TTL 还久。谁会拿到锁？持有者自己会察觉吗？
q-rung-checked = 持有者在写入前一刻检查自己是否仍持有锁。这样够吗？
q-rung-renewed = 持有者干活时有看门狗为锁续期。持有者本身被暂停时还够吗？
q-rung-fenced = PostgreSQL 现在会拒绝过期的围栏令牌。暂停超过 TTL 的持有者还能写入吗？
q-postgres-control = 同样的暂停，换成 PostgreSQL 自己的咨询锁，它没有 TTL。有什么不同？
q-long-unrenewed = 工作耗时是锁 TTL 的三倍，而且没有续期。每个订单会怎样？
q-long-renewed = 同样的长任务，现在有看门狗为锁续期。每个买家都能买到吗？
q-failover-unfenced = 持有者干活时复制被切断、副本被提升为主。下一个买家会看到什么？
q-failover-fenced = 同样的故障转移，现在带围栏令牌。第二个持有者还能造成破坏吗？
q-etcd-leader-killed = etcd 的领导者在压测中途宕机。会出现两个持有者，还是只是停顿一下？
q-redlock-one-killed = 五个主节点死了一个。它还是一把锁吗？
q-redlock-three-killed = 五个主节点死了三个。还是锁吗？订单会停下来吗？
q-split-unfenced = 网络把 Redis 主节点和一个实例与其余部分隔开。没有任何进程崩溃。谁在卖货？
q-split-fenced = 同样的分区，现在带围栏令牌。两个主节点都还在发锁：会超卖吗？
q-etcd-leader-cut = etcd 的领导者和一个实例一起被隔离。谁在卖货，谁被拒绝？

## 负载如何产生

model-closed = 封闭模型，{ $buyers } 个买家
model-open = 开放模型，每秒 { $rate } 单

## 故障，页面和原因说明里的叫法

fault-kill = 杀掉 { $server }
fault-start = 启动 { $server }
fault-cut = 切断 { $server } 的复制
fault-failover = { $server } 故障转移
fault-reset = 重置 { $server }
fault-partition = 隔离 { $server }
fault-heal = 恢复网络 { $server }
fault-other = { $kind }
fault-pause = 暂停一个持有者

## 判定

verdict-safe = ✅ 安全
verdict-inconclusive = ❔ 无法判定
verdict-no-oversell = ✅ 未超卖
verdict-damage = ❌ { $damage }
verdict-damage-fail = ❌ { $damage } 失败
verdict-books-off = ❌ 账目不符 失败
damage-oversold = 超卖 { $units }
damage-drift = 库存偏差 { $units }
expect-must-be-safe = 必须安全
expect-may-oversell = 可能超卖

## 违背的承诺，以及什么也没证明时该怎么办

reason-separator = {"；"}
reason-oversold = 超卖 { $count } 件
reason-drift = 库存偏差 { $count }（丢失更新）
reason-overlaps = 有 { $count } 对订单同时处于临界区
reason-acked-not-recorded = 有 { $count } 个已确认的订单不在账本里
reason-unexplained = 账本里有 { $count } 个订单从未被确认
reason-quantity = 有 { $count } 个订单记录或应答的数量与请求的不同
reason-units = 账本与客户端统计的件数相差 { $count }
reason-audit = 订单列表与审计接口不一致
reason-database = 服务的账本与 PostgreSQL 不一致
hint-nothing-sold = 一件也没卖出，所以什么也没测到：调大 --acquire-timeout-ms 或 --ttl-ms，或者检查锁服务器是否响应
hint-no-oversell = 这次没有超卖：调大 --buyers 或 --critical-section-ms，让竞争更激烈

## 判定的原因

cause-paused = { $paused } 个持有者被暂停（最长 { $longest } 毫秒）
cause-paused-ttl = { $paused } 个持有者被暂停（最长 { $longest } 毫秒，锁的 TTL 是 { $ttl } 毫秒）
cause-fault-at = 第 { $at } 秒{ $fault }
cause-fault-list = { $faults }
cause-none = 没有注入故障
why-mixed-backends = 各实例用了不同的后端：其中两种后端下有 { $pairs } 对订单同时处于临界区（超卖 { $oversold } 件，库存偏差 { $drift }）；锁只约束拿它的人
why-overlaps = { $cause }；有 { $pairs } 对订单同时处于临界区并且都提交了（超卖 { $oversold } 件，库存偏差 { $drift }）
why-no-exclusion = { $cause }；没有任何东西阻止并发的“读—检查—写”：超卖 { $oversold } 件，库存偏差 { $drift }
why-lock-lost = { $cause }；有 { $refused } 个订单在写入前发现锁已丢失，被拒绝（409 lock_lost）：没有提交任何过期的写入
why-paused-alone = { $cause }；在它们暂停期间，没有第二个持有者进来
why-outage = { $cause }；其间有 { $refused } 个订单被 503 拒绝，没有超卖，也没有丢单
why-recovery = { $why }；买家最长等了 { $wait } 秒才成交

## 讲师控制节奏（--pace）

pace-next = 下一个：{ $label }
pace-ask = 问全场：{ $question }
pace-press = 按回车（或仪表盘上的按钮）开始

## 终端里的表格

table-title = stocklock 压测 — 场景 { $scenario }，{ $model }，{ $targets } 个目标实例，{ $skus } 个 SKU × { $stock }，每单数量 { $quantity }，临界区 { $cs } 毫秒
table-stock-units = { $units } 件
table-stock-per-phase = 每个阶段的库存（见 已售/库存）
col-verdict = 判定
col-phase = 阶段
col-expected = 预期
col-sold = 已售/库存
col-oversold = 超卖
col-overlaps = 重叠
col-at-once = 同时持有
col-created = 201
col-sold-out = 409
col-lock-lost = 锁丢失
col-lock-503 = 503 锁
col-overloaded = 过载
col-other-503 = 503 其他
col-401 = 401
col-other = 其他
col-unsent = 未发送
col-no-answer = 无应答
col-retry = 重试/重放
col-503 = 503
col-rate = 单/秒
col-p50 = p50 毫秒
col-p99 = p99 毫秒
table-fail = 失败 { $phase }：{ $reasons }
table-note = 注意 { $phase }：{ $hint }
table-why = 原因 { $phase }：{ $why }
table-latency = 延迟：只统计成功的订单（201）；所有结果的延迟都在 JSON 报告里
table-left-out = 每个阶段都为零、未显示的列：{ $columns }
table-at-once = 同时持有：同一时刻持有锁的订单数的最大值（1 表示锁起了作用）；显示所有列：--wide
summary-failed = 有必须安全的后端不安全：见上面的“失败”
summary-inconclusive = 没有后端失败，但有的一件也没卖出、什么也没证明：见上面的“注意”
summary-passed = 所有必须安全的后端都是安全的

## 仪表盘（page-*）

page-title-live = stocklock — 实时
page-title-run = stocklock — { $name }
page-waiting-run = 等待压测程序……
page-connecting = 正在连接
page-play = ▶ 播放
page-pause = ⏸ 暂停
page-speed = 速度
page-projector = 投影模式
page-projector-hint = 标题、大数字、主图表和判定表放进一屏 1280×720（快捷键 P）
page-views = 总览和各阶段（← → 键）
page-overview = 总览
page-next = 下一个：
page-ask = 问全场：
page-start = ▶ 开始这个阶段
page-start-hint = （或在终端里按回车）
page-overview-caption = 所有阶段：已售件数占库存的比例 — 虚线以上即超卖
page-costs-caption = 安全的代价：每个阶段的每秒订单数和 p99 延迟
page-col-phase = 阶段
page-col-rate = 单/秒
page-col-p99 = p99 毫秒
page-sold-of = 件已售，库存 { $stock } 件
page-oversold = 超卖
page-oversold-alarm = ⚠ 超卖
page-overlapping = 重叠持有（对）
page-rate = 单/秒
page-refused-rate = 503/秒
page-units-caption = 已售件数与库存 — 虚线以上即超卖
page-rates-caption = 每秒应答数
page-latency-caption = 成功订单的延迟（毫秒）
page-timeline-caption = 谁在何时持有锁 — 每条横条是一个订单，从读库存到写库存（PostgreSQL 的时钟）
page-key-held = 独自持有
page-key-overlap = 斜线：与别人同时持有
page-key-refused = 锁已丢失，被拒绝
page-key-fault = 灰底：一次故障，从开始到结束
page-timeline-label = 每个实例谁在何时持有锁
page-verdicts = 判定
page-col-verdict = 判定
page-col-expected = 预期
page-col-sold = 已售/库存
page-col-oversold = 超卖
page-col-overlaps = 重叠
page-col-at-once = 同时持有
page-col-lock-lost = 锁丢失
page-col-503 = 503
page-axis-seconds = 阶段开始后的秒数
page-axis-units = 件数
page-axis-per-second = 每秒
page-axis-ms = 毫秒
page-axis-share = 已售占库存的比例
page-series-t = 时间（秒）
page-series-sold = 已售件数（账本）
page-series-stock = 上架库存
page-series-left = 剩余库存
page-series-orders = 订单
page-series-sold-out = 409 售罄
page-series-lock-lost = 409 锁丢失
page-series-503 = 503
page-series-p50 = p50
page-series-p99 = p99
page-overflow = ↑ 已售 { $sold } 件：库存的 { $times } 倍
page-overview-oversold = ⚠ 超卖
page-overview-stock = 库存
page-overview-overflow = { $label } ↑ 库存的 { $times } 倍（{ $sold } / { $stock }）
page-status-running = ⏳ 运行中
page-status-next = ⏸ 下一个
page-status-pending = · 待运行
page-run-line = 场景 { $scenario } · { $model } · { $targets } 个实例
page-waiting-instructor = ⏸ 等待讲师开始
page-live = ● 实时
page-replay = 回放
page-replay-prefix = 回放：
page-done-passed = ✔ 结束：所有必须安全的后端都是安全的
page-done-failed = ✖ 结束：有必须安全的后端不安全
page-follows = 这个标签页会跟随下一次运行
page-no-answer = ⚠ 压测程序没有响应
page-timeline-pending = 阶段结束时根据账本绘制。
page-lane = { $lane }：持有 { $holds } 次，其中 { $overlapping } 次与别人同时持有
page-lane-refused = ，{ $refused } 次 ✕ 被拒绝（锁已丢失）
page-lane-crowded = — 这条泳道中同时至少 { $rows } 个
page-most-at-once = 最多同时持有者：{ $most }。
page-first-holds = 只显示 { $total } 次持有中的前 { $shown } 次。
page-no-holds = 没有订单持有锁：这个后端在一条语句里完成读和写。
page-hover-held = { $lane }：持有 { $from }–{ $to } 秒
page-hover-token = ，围栏令牌 { $token }
page-hover-overlap = — 与另一个持有者重叠
page-seconds = { $s } 秒
page-why = { $phase }：{ $why }
page-fault-band = ⚡ { $fault }：{ $from }–{ $to } 秒
page-fault-open = ⚡ { $fault }：从第 { $from } 秒到阶段结束
