-- The plugin's workspace/applyEdit handler: applies an edit made for the buffer's version
-- without a message, and refuses (applied: false) one made for an older version, leaving the
-- buffer alone.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup()
H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  local client = H.client(buf)
  local handler = client.handlers['workspace/applyEdit']
  local ours = require('tandem.jobs').on_apply_edit
  H.check(handler == ours, 'the client uses another applyEdit handler')
  local uri = vim.uri_from_bufnr(buf)
  local start = { line = 0, character = 0 }
  local function edit(version, text)
    return {
      label = 'Tandem: edit',
      edit = {
        documentChanges = {
          {
            textDocument = { uri = uri, version = version },
            edits = {
              {
                range = { start = start, ['end'] = start },
                newText = text,
              },
            },
          },
        },
      },
    }
  end
  local ctx = { client_id = client.id, method = 'workspace/applyEdit' }
  local version = vim.b[buf].changedtick
  vim.cmd('messages clear')

  local answer = handler(nil, edit(version, '// current\n'), ctx)
  H.check(answer.applied == true, 'a current edit was refused: ' .. vim.inspect(answer))
  H.check(H.lines(buf)[1] == '// current', 'the current edit did not land')

  local before = H.lines(buf)
  answer = handler(nil, edit(version, '// stale\n'), ctx)
  H.check(answer.applied == false, 'a stale edit was not refused: ' .. vim.inspect(answer))
  H.check(answer.failureReason:find('newer', 1, true), 'reason ' .. tostring(answer.failureReason))
  H.check(vim.deep_equal(H.lines(buf), before), 'the stale edit changed the buffer')

  local messages = vim.fn.execute('messages')
  H.check(not messages:find('Workspace edit', 1, true), 'the handler printed: ' .. messages)
  H.check(not messages:find('newer than edits', 1, true), 'the handler printed: ' .. messages)
end)
