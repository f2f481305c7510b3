; Symbols of a TypeScript or TSX file (see server/src/syntax/tags.rs); TSX uses this file too.
; Captures: @definition.<kind> or @reference.<kind> on the node and @name on the name. When
; patterns overlap on one name, a definition beats a reference and the earlier pattern wins.

(method_definition name: (property_identifier) @name) @definition.method
(method_signature name: (property_identifier) @name) @definition.method
(abstract_method_signature name: (property_identifier) @name) @definition.method
(class_declaration name: (type_identifier) @name) @definition.class
(abstract_class_declaration name: (type_identifier) @name) @definition.class
(interface_declaration name: (type_identifier) @name) @definition.interface
(type_alias_declaration name: (type_identifier) @name) @definition.type_alias
(enum_declaration name: (identifier) @name) @definition.enum
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(function_signature name: (identifier) @name) @definition.function
(variable_declarator
  name: (identifier) @name
  value: [(arrow_function) (function_expression)]) @definition.function
(public_field_definition name: (property_identifier) @name) @definition.field
(property_signature name: (property_identifier) @name) @definition.field
(internal_module name: (identifier) @name) @definition.module

(call_expression function: (identifier) @name) @reference.function
(call_expression function: (member_expression property: (property_identifier) @name)) @reference.method
(new_expression constructor: (identifier) @name) @reference.class
(type_identifier) @name @reference.type
