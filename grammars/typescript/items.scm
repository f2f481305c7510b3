; Items of a TypeScript or TSX file (see server/src/syntax/items.rs); TSX uses this file too.
; Captures: @item.<kind> on the item node (kinds as in rust/items.scm), @name on its name, @body
; on its body: the signature is the text before it. JSDoc (`/** */` directly above the item, or
; above its `export`/`declare`) is attached in code. An enum member without a value is its own
; name, so it carries both @name and @item.variant. Members of inline object types (`{ a: T }`
; in a parameter) are not items: only an interface's members are.

(function_declaration name: (_) @name body: (_) @body) @item.function
(generator_function_declaration name: (_) @name body: (_) @body) @item.function
(function_signature name: (_) @name) @item.function
(lexical_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)])) @item.function
(variable_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)])) @item.function
(class_declaration name: (_) @name body: (_) @body) @item.class
(abstract_class_declaration name: (_) @name body: (_) @body) @item.class
(method_definition name: (_) @name body: (_) @body) @item.method
(interface_body (method_signature name: (_) @name) @item.method)
(abstract_method_signature name: (_) @name) @item.method
(public_field_definition name: (_) @name) @item.field
(interface_body (property_signature name: (_) @name) @item.field)
(interface_declaration name: (_) @name body: (_) @body) @item.interface
(type_alias_declaration name: (_) @name) @item.type_alias
(enum_declaration name: (_) @name body: (_) @body) @item.enum
(enum_body name: (_) @name @item.variant)
(enum_assignment name: (_) @name) @item.variant
(internal_module name: (_) @name body: (_) @body) @item.module
(module name: (_) @name body: (_) @body) @item.module
