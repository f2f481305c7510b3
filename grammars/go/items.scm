; Items of a Go file (see server/src/syntax/items.rs).
; Captures: @item.<kind> on the item node (kinds as in rust/items.scm), @name on its name, @body
; on its body: the signature is the text before it. A declaration with a single spec
; (`type Point struct {…}`) is the item, so the signature starts at `type`; in a group
; (`type ( … )`) each spec is. Both patterns match a single spec: the widest node wins (in code).
; Doc comments (`//` lines directly above) are attached in code.

(function_declaration name: (_) @name body: (_) @body) @item.function
(method_declaration name: (_) @name body: (_) @body) @item.method

(type_declaration . (type_spec name: (_) @name type: (struct_type (field_declaration_list) @body)) .) @item.struct
(type_spec name: (_) @name type: (struct_type (field_declaration_list) @body)) @item.struct
(type_declaration . (type_spec name: (_) @name type: (interface_type) @body) .) @item.interface
(type_spec name: (_) @name type: (interface_type) @body) @item.interface
(type_declaration
  . (type_spec
      name: (_) @name
      type: [(type_identifier) (qualified_type) (generic_type) (pointer_type) (slice_type)
             (map_type) (array_type) (function_type) (channel_type)]) .) @item.type_alias
(type_spec
  name: (_) @name
  type: [(type_identifier) (qualified_type) (generic_type) (pointer_type) (slice_type)
         (map_type) (array_type) (function_type) (channel_type)]) @item.type_alias
(type_declaration . (type_alias name: (_) @name) .) @item.type_alias
(type_alias name: (_) @name) @item.type_alias

(method_elem name: (_) @name) @item.method
(field_declaration name: (_) @name) @item.field
(const_declaration . (const_spec name: (identifier) @name) .) @item.constant
(const_spec name: (identifier) @name) @item.constant
