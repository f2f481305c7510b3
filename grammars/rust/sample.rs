//! Sample for the Rust queries; annotations are checked by a test (see grammars/README.md).

/// Adds two numbers.
/// Wraps on overflow.
pub fn add(a: i32, b: i32) -> i32 {
//     ^ item.function add sig="pub fn add(a: i32, b: i32) -> i32" body=+0..+2 doc="Adds two numbers.\nWraps on overflow."
//     ^ def.function add
    a.wrapping_add(b)
//    ^ ref.method wrapping_add
}

/** A point
 * in the plane. */
#[derive(Debug, Clone)]
pub struct Point {
//         ^ item.struct Point sig="pub struct Point" body=+0..+3 doc="A point\nin the plane."
//         ^ def.struct Point
    pub x: f64,
//      ^ item.field x in=Point sig="pub x: f64" body=none
    y: f64,
    // <- item.field y in=Point doc=none
}

// A plain comment is not a doc comment.
struct Unit;
//     ^ item.struct Unit sig="struct Unit;" body=none doc=none

enum Shape {
//   ^ item.enum Shape body=+0..+3
    Circle { r: f64 },
    // <- item.variant Circle in=Shape sig="Circle"
//           ^ item.field r in=Shape/Circle
    Square(f64),
    // <- item.variant Square in=Shape sig="Square" body=+0..+0
}

union Bits {
//    ^ item.union Bits
    i: u32,
    // <- item.field i in=Bits
}

/// Things that have an area.
pub trait Area {
//        ^ item.trait Area doc="Things that have an area." body=+0..+4
    /// The area.
    fn area(&self) -> f64;
//     ^ item.method area in=Area sig="fn area(&self) -> f64;" body=none doc="The area."
//     ^ def.method area
    fn double(&self) -> f64 { self.area() * 2.0 }
//     ^ item.method double in=Area body=+0..+0
}

impl Area for Point {
//            ^ item.impl "Area for Point" sig="impl Area for Point" body=+0..+4
//   ^ ref.trait Area
//            ^ ref.type Point
    fn area(&self) -> f64 {
//     ^ item.method area in="Area for Point"
        helper(self.x, self.y)
//      ^ ref.function helper
    }
}

impl<T> Wrapper<T> {
//      ^ item.impl Wrapper<T> sig="impl<T> Wrapper<T>"
    const EMPTY: usize = 0;
//        ^ item.constant EMPTY in=Wrapper<T> sig="const EMPTY: usize = 0;"
    fn new(inner: T) -> Self { Wrapper { inner } }
//     ^ item.method new in=Wrapper<T>
}

pub struct Wrapper<T> { inner: T }
//         ^ item.struct Wrapper sig="pub struct Wrapper<T>" body=+0..+0
//                      ^ item.field inner in=Wrapper

type Pair = (Point, Point);
//   ^ item.type_alias Pair sig="type Pair = (Point, Point);"
//   ^ def.type_alias Pair

static COUNT: u32 = 0;
//     ^ item.constant COUNT

mod nested {
//  ^ item.module nested body=+0..+5
    fn helper(x: f64, y: f64) -> f64 {
//     ^ item.function helper in=nested
        fn inner() {}
//         ^ item.function inner in=nested/helper
        x * y
    }
}

macro_rules! square {
//           ^ item.macro square
    ($x:expr) => { $x * $x };
}

fn uses() {
// ^ item.function uses
    let _ = square!(2);
//          ^ ref.macro square
    let _ = Wrapper::<u8>::new(1);
//                         ^ ref.function new
}
