// Sample for the Go queries; annotations are checked by a test (see grammars/README.md).

package geometry

// MaxSize bounds every shape.
const MaxSize = 10
//    ^ item.constant MaxSize sig="const MaxSize = 10" doc="MaxSize bounds every shape."
//    ^ def.constant MaxSize

// Point is a point in the plane.
type Point struct {
//   ^ item.struct Point sig="type Point struct" body=+0..+3 doc="Point is a point in the plane."
//   ^ def.struct Point
	X float64
	// <- item.field X in=Point sig="X float64"
	Y float64
	// <- item.field Y in=Point
}

// Shape has an area.
type Shape interface {
//   ^ item.interface Shape sig="type Shape" body=+0..+2 doc="Shape has an area."
//   ^ def.interface Shape
	Area() float64
	// <- item.method Area in=Shape sig="Area() float64"
	// <- def.method Area
}

type (
	// Meters is a length.
	Meters float64
	// <- item.type_alias Meters sig="Meters float64" doc="Meters is a length."
	// <- def.type_alias Meters
	Names = []string
	// <- item.type_alias Names sig="Names = []string"
)

// Add adds two numbers.
func Add(a, b int) int {
//   ^ item.function Add sig="func Add(a, b int) int" body=+0..+2 doc="Add adds two numbers."
//   ^ def.function Add
	return helper(a) + b
	//     ^ ref.function helper
}

// Area is the area of the rectangle spanned by p.
func (p Point) Area() float64 {
//             ^ item.method Area sig="func (p Point) Area() float64" body=+0..+2 doc="Area is the area of the rectangle spanned by p."
//             ^ def.method Area
	return p.X * p.Scale()
	//             ^ ref.method Scale
}

func origin() Point { return Point{} }
//   ^ item.function origin sig="func origin() Point" body=+0..+0 doc=none
//            ^ ref.type Point
