; Items of a JavaScript file (see server/src/syntax/items.rs).
; Captures: @item.<kind> on the item node (kinds as in rust/items.scm), @name on its name, @body
; on its body: the signature is the text before it. JSDoc (`/** */` directly above the item, or
; above its `export`) is attached in code.

(function_declaration name: (_) @name body: (_) @body) @item.function
(generator_function_declaration name: (_) @name body: (_) @body) @item.function
(lexical_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)])) @item.function
(variable_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)])) @item.function
(class_declaration name: (_) @name body: (_) @body) @item.class
(method_definition name: (_) @name body: (_) @body) @item.method
(field_definition property: (_) @name) @item.field
