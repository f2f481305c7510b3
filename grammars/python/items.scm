; Items of a Python file (see server/src/syntax/items.rs).
; Captures: @item.<kind> on the item node (kinds as in rust/items.scm), @name on its name, @body
; on its body: the signature is the text before it. Functions inside classes become methods in
; code; docstrings (the body's first statement, if a string) are found in code.
; Module-level assignments count as constants only when the name is UPPER_CASE.

(function_definition name: (_) @name body: (_) @body) @item.function
(class_definition name: (_) @name body: (_) @body) @item.class
(class_definition
  body: (block (expression_statement (assignment left: (identifier) @name) @item.field)))
(module
  (expression_statement (assignment left: (identifier) @name) @item.constant)
  (#match? @name "^[A-Z][A-Z0-9_]*$"))
(type_alias_statement left: (type (identifier) @name)) @item.type_alias
