--- Small bridges over the parts of Neovim's LSP client that changed between 0.10 and 0.11,
--- and conversions between LSP positions and buffer byte columns.
local M = {}

local has_011 = vim.fn.has('nvim-0.11') == 1

--- `t` as a JSON object: an empty or missing table encodes as `{}`, not `[]`.
function M.object(t)
  if type(t) ~= 'table' or next(t) == nil then
    return vim.empty_dict()
  end
  return t
end

--- The Tandem client attached to `bufnr`, if any.
--- @param bufnr integer
--- @return vim.lsp.Client?
function M.client_for(bufnr)
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  return get({ bufnr = bufnr, name = 'tandem' })[1]
end

--- Any running Tandem client (for commands about the workspace rather than a buffer).
--- @return vim.lsp.Client?
function M.any_client()
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  return get({ name = 'tandem' })[1]
end

--- Sends a request (0.11 has methods, 0.10 has plain functions).
function M.request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

--- Cancels a request sent with `M.request` (by the id it returned).
function M.cancel(client, id)
  if has_011 then
    return client:cancel_request(id)
  end
  return client.cancel_request(id)
end

--- Whether the server offers `method` (for `bufnr`).
function M.supports(client, method, bufnr)
  if has_011 then
    return client:supports_method(method, bufnr)
  end
  return client.supports_method(method, { bufnr = bufnr })
end

--- Sends a notification.
function M.notify(client, method, params)
  if has_011 then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

--- Sends a request and waits for its answer.
--- @return table? response {result=..., err=...}, string? error
function M.request_sync(client, method, params, timeout_ms, bufnr)
  if has_011 then
    return client:request_sync(method, params, timeout_ms, bufnr)
  end
  return client.request_sync(method, params, timeout_ms, bufnr)
end

--- Runs `workspace/executeCommand` on the server.
function M.execute(client, command, argument, handler, bufnr)
  return M.request(
    client,
    'workspace/executeCommand',
    { command = command, arguments = { argument } },
    handler,
    bufnr
  )
end

--- The byte column of an LSP `character` on `line`, in `encoding`.
--- @param line string
--- @param character integer
--- @param encoding string
--- @return integer
function M.byte_col(line, character, encoding)
  if encoding == 'utf-8' or character <= 0 then
    return math.max(0, math.min(character, #line))
  end
  local ok, col
  if has_011 then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  if not ok then
    return #line
  end
  return math.min(col, #line)
end

--- An LSP position as a (0-based row, byte column) in `bufnr`, clamped to the buffer the
--- way the server clamps: a line past the end means the end of the buffer.
--- @return integer row, integer col
function M.to_buf_pos(bufnr, position, encoding)
  local count = vim.api.nvim_buf_line_count(bufnr)
  local row = position.line
  if row >= count then
    local last = vim.api.nvim_buf_get_lines(bufnr, count - 1, count, false)[1] or ''
    return count - 1, #last
  end
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  return row, M.byte_col(line, position.character, encoding)
end

--- The (row, col) where `text`, inserted at (row, col), ends.
--- @return integer row, integer col
function M.end_of_insert(row, col, text)
  local lines = vim.split(text, '\n', { plain = true })
  if #lines == 1 then
    return row, col + #lines[1]
  end
  local last = lines[#lines]:gsub('\r$', '')
  return row + #lines - 1, #last
end

--- Whether the point (r1, c1) comes before (r2, c2).
function M.before(r1, c1, r2, c2)
  return r1 < r2 or (r1 == r2 and c1 < c2)
end

return M
