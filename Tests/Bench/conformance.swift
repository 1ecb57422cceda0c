// Tests/Bench/conformance.sh compiles this once per variant (-DNONE, -DCAST_CONCRETE, ...) and
// counts instructions with callgrind: the cost of a first dynamic type question.
protocol Work { func work() -> Int }
protocol Other { var other: Int { get } }
struct A: Work, Other { var x: Int; func work() -> Int { x + 1 }; var other: Int { x } }
struct B: Work { var x: Int; func work() -> Int { x + 2 } }
@inline(never) func make(_ n: Int) -> any Work { n > 1000 ? B(x: n) : A(x: n) }
let n = CommandLine.arguments.count
let w = make(n)
var total = 0
#if CAST_CONCRETE
if let a = w as? A { total += a.x }
#elseif CAST_PROTOCOL
if let o = w as? any Other { total += o.other }
#elseif WITNESS
total += w.work()
#elseif FIRST_SET
var set = Set<Int>(); set.insert(n); total += set.count
#endif
print(total)
