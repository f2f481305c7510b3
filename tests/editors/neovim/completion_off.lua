-- setup{ completion = false } turns inline completion off in the server (`completion.enabled`
-- reaches it as false, the rest of `settings.completion` kept) and in the plugin: no accept key,
-- nothing listening to the typing. The plugin's own `settings.completion` is left as it was.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup({ completion = false, settings = { completion = { debounceMs = 0 } } })
H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  local client = H.client(buf)
  local answer = client:request_sync(
    'workspace/executeCommand',
    { command = 'tandem.status', arguments = { vim.empty_dict() } },
    10000,
    buf
  )
  H.check(answer and answer.result, 'tandem.status failed: ' .. vim.inspect(answer))
  local settings = answer.result.settings.completion
  H.check(settings.enabled == false, 'the server has completion ' .. vim.inspect(settings))
  H.check(settings.debounceMs == 0, 'the other settings were lost: ' .. vim.inspect(settings))
  H.check(require('tandem').config.settings.completion.enabled == nil, 'setup changed the settings')

  local map = vim.fn.maparg('<M-l>', 'i', false, true)
  H.check(vim.tbl_isempty(map), '<M-l> is mapped: ' .. vim.inspect(map))
  local ok = pcall(vim.api.nvim_get_autocmds, { group = 'tandem.completion.' .. buf })
  H.check(not ok, 'the plugin listens to the typing in buffer ' .. buf)

  -- Turned on again by a second setup: the running client's buffer gets it.
  H.setup({ settings = { completion = { debounceMs = 0 } } })
  map = vim.fn.maparg('<M-l>', 'i', false, true)
  H.check(map.buffer == 1, 'setup again did not map <M-l>: ' .. vim.inspect(map))
end)
