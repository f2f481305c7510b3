; Items of a Rust file (see server/src/syntax/items.rs).
; Captures: @item.<kind> on the item node (kind: function, method, struct, enum, union, trait,
; interface, impl, class, type_alias, module, constant, field, variant, macro), @name on its name,
; @name.trait on an impl's trait (the name becomes "Trait for Type"), @body on its body: the
; signature is the item's text before the body. Functions inside impls and traits become methods
; in code, and doc comments are attached in code.

(function_item name: (_) @name body: (_) @body) @item.function
(function_signature_item name: (_) @name) @item.function
(struct_item name: (_) @name body: (_)? @body) @item.struct
(enum_item name: (_) @name body: (_) @body) @item.enum
(enum_variant name: (_) @name body: (_)? @body) @item.variant
(union_item name: (_) @name body: (_) @body) @item.union
(trait_item name: (_) @name body: (_) @body) @item.trait
(impl_item trait: (_) @name.trait type: (_) @name body: (_)? @body) @item.impl
(impl_item !trait type: (_) @name body: (_)? @body) @item.impl
(type_item name: (_) @name) @item.type_alias
(mod_item name: (_) @name body: (_)? @body) @item.module
(const_item name: (_) @name) @item.constant
(static_item name: (_) @name) @item.constant
(field_declaration name: (_) @name) @item.field
(macro_definition name: (_) @name) @item.macro
