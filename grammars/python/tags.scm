; Symbols of a Python file (see server/src/syntax/tags.rs).
; Captures: @definition.<kind> or @reference.<kind> on the node and @name on the name. When
; patterns overlap on one name, a definition beats a reference and the earlier pattern wins.

(class_definition body: (block (function_definition name: (identifier) @name) @definition.method))
(class_definition
  body: (block (decorated_definition definition: (function_definition name: (identifier) @name) @definition.method)))
(function_definition name: (identifier) @name) @definition.function
(class_definition name: (identifier) @name) @definition.class
(module
  (expression_statement (assignment left: (identifier) @name) @definition.constant)
  (#match? @name "^[A-Z][A-Z0-9_]*$"))

(call function: (identifier) @name) @reference.function
(call function: (attribute attribute: (identifier) @name)) @reference.method
(class_definition superclasses: (argument_list (identifier) @name @reference.class))
(type (identifier) @name) @reference.type
