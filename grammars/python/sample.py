"""Sample for the Python queries; annotations are checked by a test (see grammars/README.md)."""

MAX_SIZE = 10
# <- item.constant MAX_SIZE sig="MAX_SIZE = 10"
# <- def.constant MAX_SIZE

lowercase = 1


def add(a: int, b: int) -> int:
#   ^ item.function add sig="def add(a: int, b: int) -> int:" body=+1..+2 doc="Adds two numbers."
#   ^ def.function add
    """Adds two numbers."""
    return helper(a) + b
    #      ^ ref.function helper


class Shape(Base):
#     ^ item.class Shape sig="class Shape(Base):" doc="A shape.\n\nIt has an area."
#     ^ def.class Shape
#           ^ ref.class Base
    """A shape.

    It has an area.
    """

    sides: int = 0
    # <- item.field sides in=Shape sig="sides: int = 0"

    def area(self) -> float:
    #   ^ item.method area in=Shape doc=none
    #   ^ def.method area
        return self.compute()
        #           ^ ref.method compute

    @staticmethod
    def make() -> "Shape":
    #   ^ item.method make in=Shape sig="def make() -> \"Shape\":" doc="Makes one."
    #   ^ def.method make
        '''Makes one.'''

        class Inner:
        #     ^ item.class Inner in=Shape/make body=+2..+2
            # Inner's body follows.
            pass

        return Shape()


def outer():
#   ^ item.function outer doc=none
    def inner(x):
    #   ^ item.function inner in=outer sig="def inner(x):"
        return x

    return inner
