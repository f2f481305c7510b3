; Symbols of a Go file (see server/src/syntax/tags.rs).
; Captures: @definition.<kind> or @reference.<kind> on the node and @name on the name. When
; patterns overlap on one name, a definition beats a reference and the earlier pattern wins.

(function_declaration name: (identifier) @name) @definition.function
(method_declaration name: (field_identifier) @name) @definition.method
(type_spec name: (type_identifier) @name type: (struct_type)) @definition.struct
(type_spec name: (type_identifier) @name type: (interface_type)) @definition.interface
(type_spec name: (type_identifier) @name) @definition.type_alias
(type_alias name: (type_identifier) @name) @definition.type_alias
(method_elem name: (field_identifier) @name) @definition.method
(field_declaration name: (field_identifier) @name) @definition.field
(const_spec name: (identifier) @name) @definition.constant

(call_expression function: (identifier) @name) @reference.function
(call_expression function: (selector_expression field: (field_identifier) @name)) @reference.method
(type_identifier) @name @reference.type
