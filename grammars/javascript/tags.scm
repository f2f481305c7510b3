; Symbols of a JavaScript file (see server/src/syntax/tags.rs).
; Captures: @definition.<kind> or @reference.<kind> on the node and @name on the name. When
; patterns overlap on one name, a definition beats a reference and the earlier pattern wins.

(method_definition name: (property_identifier) @name) @definition.method
(class_declaration name: (identifier) @name) @definition.class
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(variable_declarator
  name: (identifier) @name
  value: [(arrow_function) (function_expression)]) @definition.function
(field_definition property: (property_identifier) @name) @definition.field

(call_expression function: (identifier) @name) @reference.function
(call_expression function: (member_expression property: (property_identifier) @name)) @reference.method
(new_expression constructor: (identifier) @name) @reference.class
(class_heritage (identifier) @name) @reference.class
