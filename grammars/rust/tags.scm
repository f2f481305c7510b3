; Symbols of a Rust file (see server/src/syntax/tags.rs).
; Captures: @definition.<kind> or @reference.<kind> on the node (kinds as in items.scm, plus
; `type` for a type use of unknown kind) and @name on the name. When patterns overlap on one name,
; a definition beats a reference and the earlier pattern wins: specific patterns come first.

(declaration_list (function_item name: (identifier) @name) @definition.method)
(declaration_list (function_signature_item name: (identifier) @name) @definition.method)
(function_item name: (identifier) @name) @definition.function
(function_signature_item name: (identifier) @name) @definition.function
(struct_item name: (type_identifier) @name) @definition.struct
(enum_item name: (type_identifier) @name) @definition.enum
(union_item name: (type_identifier) @name) @definition.union
(trait_item name: (type_identifier) @name) @definition.trait
(type_item name: (type_identifier) @name) @definition.type_alias
(mod_item name: (identifier) @name) @definition.module
(const_item name: (identifier) @name) @definition.constant
(static_item name: (identifier) @name) @definition.constant
(macro_definition name: (identifier) @name) @definition.macro
(enum_variant name: (identifier) @name) @definition.variant
(field_declaration name: (field_identifier) @name) @definition.field

(call_expression function: (identifier) @name) @reference.function
(call_expression function: (scoped_identifier name: (identifier) @name)) @reference.function
(call_expression function: (field_expression field: (field_identifier) @name)) @reference.method
(call_expression function: (generic_function function: (identifier) @name)) @reference.function
(macro_invocation macro: (identifier) @name) @reference.macro
(impl_item trait: (type_identifier) @name) @reference.trait
(type_identifier) @name @reference.type
