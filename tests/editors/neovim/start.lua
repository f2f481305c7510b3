-- setup{} starts `tandem` for the buffer, hands it the settings, and :Tandem completes.
-- With TANDEM_TEST_NO_LSP_CONFIG set, vim.lsp.config/enable are hidden first, so setup takes
-- Neovim 0.10's way (a FileType autocmd calling vim.lsp.start).
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
if os.getenv('TANDEM_TEST_NO_LSP_CONFIG') then
  vim.lsp.enable = nil
end
H.setup()
if os.getenv('TANDEM_TEST_NO_LSP_CONFIG') then
  H.check(not vim.lsp.is_enabled('tandem'), 'setup used vim.lsp.enable')
end
H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  H.check(vim.bo[buf].filetype == 'rust', 'the file is detected as ' .. vim.bo[buf].filetype)
  local client = H.client(buf)
  H.check(client.name == 'tandem', 'client name ' .. client.name)
  local info = client.server_info
  H.check(info and info.name == 'tandem', 'serverInfo ' .. vim.inspect(info))
  local cwd = vim.fn.getcwd()
  H.check(client.root_dir == cwd, 'root_dir ' .. tostring(client.root_dir) .. ' vs ' .. cwd)

  -- The settings reached the server (initializationOptions / workspace/configuration).
  local answer = client:request_sync(
    'workspace/executeCommand',
    { command = 'tandem.status', arguments = { vim.empty_dict() } },
    10000,
    buf
  )
  H.check(answer and answer.result, 'tandem.status failed: ' .. vim.inspect(answer))
  local settings = answer.result.settings
  local url = H.env('TANDEM_MODEL_URL')
  H.check(settings.model.baseUrl == url, 'model.baseUrl ' .. vim.inspect(settings.model))
  H.check(settings.model.name == 'test-model', 'model.name ' .. vim.inspect(settings.model))
  H.check(settings.hover.enabled == false, 'hover ' .. vim.inspect(settings.hover))

  -- What the server would ask for section `tandem` is the same object.
  local handler = client.handlers['workspace/configuration']
  local config = handler(nil, { items = { { section = 'tandem' } } }, { client_id = client.id })
  H.check(config[1].model.baseUrl == url, 'workspace/configuration ' .. vim.inspect(config))

  local completions = vim.fn.getcompletion('Tandem ex', 'cmdline')
  H.check(vim.deep_equal(completions, { 'explain' }), 'completion ' .. vim.inspect(completions))
  local all = vim.fn.getcompletion('Tandem ', 'cmdline')
  local subcommands = { 'accept', 'cancel', 'document', 'edit', 'explain', 'fix', 'implement' }
  vim.list_extend(subcommands, { 'reject', 'review', 'rules', 'status', 'task', 'tests' })
  H.check(vim.deep_equal(all, subcommands), 'subcommands ' .. vim.inspect(all))
  local rules = vim.fn.getcompletion('Tandem rules ', 'cmdline')
  H.check(vim.deep_equal(rules, { 'propose', 'forget' }), 'rules completion ' .. vim.inspect(rules))
end)
