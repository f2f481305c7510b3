// Sample for the JavaScript queries; annotations are checked by a test (see grammars/README.md).

/**
 * Adds two numbers.
 * @param {number} a
 */
function add(a, b) {
//       ^ item.function add sig="function add(a, b)" body=+0..+2 doc="Adds two numbers.\n@param {number} a"
//       ^ def.function add
  return helper(a) + b;
//       ^ ref.function helper
}

/* Not JSDoc. */
const double = (x) => x * 2;
//    ^ item.function double sig="const double = (x) =>" body=+0..+0 doc=none
//    ^ def.function double

/** A counter. */
export class Counter extends Base {
//           ^ item.class Counter sig="class Counter extends Base" body=+0..+10 doc="A counter."
//           ^ def.class Counter
//                           ^ ref.class Base
  count = 0;
  // <- item.field count in=Counter sig="count = 0"

  /** Adds one. */
  increment() {
//^ item.method increment in=Counter sig="increment()" doc="Adds one."
//^ def.method increment
    this.count += 1;
    this.log();
//       ^ ref.method log
  }

  static create() { return new Counter(); }
//       ^ item.method create in=Counter body=+0..+0
//                             ^ ref.class Counter
}

function* ids() { yield 1; }
//        ^ item.function ids sig="function* ids()"

var legacy = function () { return 1; };
//  ^ item.function legacy sig="var legacy = function ()"
