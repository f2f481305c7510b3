// Sample for the TypeScript queries; annotations are checked by a test (see grammars/README.md).

/** A point in the plane. */
export interface Point {
//               ^ item.interface Point sig="interface Point" body=+0..+3 doc="A point in the plane."
//               ^ def.interface Point
  x: number;
  // <- item.field x in=Point sig="x: number"
  norm(): number;
  // <- item.method norm in=Point sig="norm(): number"
}

type Pair = [Point, Point];
//   ^ item.type_alias Pair sig="type Pair = [Point, Point];"
//   ^ def.type_alias Pair
//           ^ ref.type Point

enum Color {
//   ^ item.enum Color sig="enum Color" body=+0..+3
//   ^ def.enum Color
  Red,
  // <- item.variant Red in=Color
  Green = 2,
  // <- item.variant Green in=Color
}

/** Sums two numbers. */
export function sum(a: number, b: number): number {
//              ^ item.function sum sig="function sum(a: number, b: number): number" body=+0..+2 doc="Sums two numbers."
//              ^ def.function sum
  return helper(a) + b;
//       ^ ref.function helper
}

export abstract class Shape implements Point {
//                    ^ item.class Shape sig="abstract class Shape implements Point" body=+0..+6
//                    ^ def.class Shape
  x = 0;
  // <- item.field x in=Shape sig="x = 0"
  abstract area(): number;
//         ^ item.method area in=Shape sig="abstract area(): number"
  norm(): number {
//^ item.method norm in=Shape sig="norm(): number" body=+0..+2
    return this.area();
//              ^ ref.method area
  }
}

const scale = (p: Point, k: number): Point => ({ ...p, x: p.x * k });
//    ^ item.function scale sig="const scale = (p: Point, k: number): Point =>" body=+0..+0

namespace Geometry {
//        ^ item.module Geometry sig="namespace Geometry" body=+0..+2
  export const origin = () => new Circle();
//             ^ item.function origin in=Geometry sig="const origin = () =>"
//                                ^ ref.class Circle
}
