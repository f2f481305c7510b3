--- Tandem for Neovim: starts the `tandem` language server for the buffers it serves, hands it
--- the settings, and shows what its jobs do. All behaviour lives in the server.
local lsp = require('tandem.lsp')

local M = {}

M.defaults = {
  --- How to start the server. Unset: `tandem` on $PATH, else the one the lazy.nvim `build`
  --- step made in the plugin's checkout (`<checkout>/target/release/tandem`).
  cmd = nil,
  filetypes = {
    'rust',
    'python',
    'go',
    'javascript',
    'javascriptreact',
    'typescript',
    'typescriptreact',
  },
  --- A buffer's workspace is the nearest folder above it holding one of these.
  root_markers = { '.git', '.tandem' },
  --- Tandem's settings object (`initializationOptions` and `workspace/configuration` section
  --- `tandem`): { model = {...}, edits = { mode = ... }, hover = {...} }.
  settings = {},
  --- Buffer-local keys while a finished edit awaits review; `false` for none (or set one to
  --- `false`).
  keymaps = { accept = '<leader>ta', reject = '<leader>tr' },
  --- Echo the jobs' progress (`$/progress`) as it arrives.
  progress = true,
  --- Inline completion (ghost text while typing in Insert mode): `false` (or
  --- `{ enabled = false }`) turns it off, in the server too. `accept` is the Insert mode key that
  --- takes the suggestion (`false` for none); `debounce_ms` how long after a keystroke it is asked
  --- for. The model and its limits are `settings.completion`.
  completion = { enabled = true, accept = '<M-l>', debounce_ms = 30 },
}

M.config = vim.deepcopy(M.defaults)

--- Options that are lists are taken whole, not merged entry by entry.
local LISTS = { cmd = true, filetypes = true, root_markers = true }

local function merge(opts)
  opts = vim.tbl_extend('force', {}, opts or {})
  -- `completion = false` / `true` stand for `{ enabled = false }` / `{ enabled = true }`.
  if type(opts.completion) == 'boolean' then
    opts.completion = { enabled = opts.completion }
  end
  local config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  for name in pairs(LISTS) do
    if opts and opts[name] ~= nil then
      config[name] = vim.deepcopy(opts[name])
    end
  end
  if opts and opts.keymaps == false then
    config.keymaps = false
  end
  return config
end

--- The settings object the server gets: `settings`, with `completion.enabled = false` when the
--- `completion` option turns it off.
function M.server_settings()
  local settings = vim.deepcopy(M.config.settings or {})
  if not M.config.completion.enabled then
    local completion = type(settings.completion) == 'table' and settings.completion or {}
    completion.enabled = false
    settings.completion = completion
  end
  return lsp.object(settings)
end

--- `workspace/configuration`: section `tandem` is the settings object.
local function on_configuration(_, params)
  local answer = {}
  local settings = M.server_settings()
  for _, item in ipairs(params.items or {}) do
    local section = item.section or ''
    local value = vim.NIL
    if section == 'tandem' then
      value = settings
    elseif vim.startswith(section, 'tandem.') then
      local path = vim.split(section:sub(#'tandem.' + 1), '.', { plain = true })
      local found = vim.tbl_get(settings, unpack(path))
      if found ~= nil then
        value = found
      end
    end
    table.insert(answer, value)
  end
  return answer
end

--- The client-side commands: the agent actions that code actions carry go through the plugin,
--- so their jobs are tracked like the ones `:Tandem` starts. A task's (or an edit's) code action
--- carries no instruction: it is asked for first, as `:Tandem task` without one does.
local function client_commands()
  local commands = {}
  local actions = { 'explain', 'fix', 'implement', 'document', 'tests', 'edit', 'review', 'task' }
  local asks = { edit = 'Tandem edit: ', task = 'Tandem task: ' }
  for _, action in ipairs(actions) do
    commands['tandem.' .. action] = function(command, ctx)
      local client = vim.lsp.get_client_by_id(ctx.client_id)
      local argument = command.arguments and command.arguments[1]
      if not (client and type(argument) == 'table') then
        return
      end
      local bufnr = argument.uri and vim.uri_to_bufnr(argument.uri) or ctx.bufnr
      local start = function()
        require('tandem.jobs').start(client, bufnr, command.command, argument)
      end
      local instruction = argument.instruction
      if asks[action] and (type(instruction) ~= 'string' or vim.trim(instruction) == '') then
        require('tandem.command').ask_instruction(asks[action], function(input)
          argument.instruction = input
          start()
        end)
        return
      end
      start()
    end
  end
  return commands
end

--- The LSP client configuration (for `vim.lsp.config` or `vim.lsp.start`).
function M.client_config()
  local jobs = require('tandem.jobs')
  return {
    name = 'tandem',
    cmd = (require('tandem.server').resolve(M.config.cmd)),
    filetypes = M.config.filetypes,
    root_markers = M.config.root_markers,
    init_options = M.server_settings(),
    settings = { tandem = M.server_settings() },
    -- The plugin shows `tandem/jobFinished` itself: the server then sends no showMessage. It
    -- shows inline completions too, when they are on (Neovim 0.12 says so on its own).
    capabilities = vim.tbl_deep_extend('force', vim.lsp.protocol.make_client_capabilities(), {
      experimental = { tandem = { jobFinished = true } },
      textDocument = M.config.completion.enabled
          and { inlineCompletion = { dynamicRegistration = false } }
        or nil,
    }),
    handlers = {
      ['workspace/applyEdit'] = jobs.on_apply_edit,
      ['workspace/configuration'] = on_configuration,
      ['tandem/jobFinished'] = jobs.on_job_finished,
      ['tandem/jobStep'] = jobs.on_job_step,
      ['tandem/ruleProposed'] = require('tandem.rules').on_rule_proposed,
    },
    commands = client_commands(),
    on_exit = function(_, _, client_id)
      vim.schedule(function()
        jobs.forget_client(client_id)
      end)
    end,
  }
end

local function highlights()
  local set = function(name, link)
    vim.api.nvim_set_hl(0, name, { link = link, default = true })
  end
  set('TandemStreaming', 'DiffChange')
  set('TandemReview', 'DiffAdd')
  set('TandemHint', 'Comment')
  set('TandemSuggestion', 'Comment')
end

--- The title of each progress by token (only `begin` carries it).
local titles = {}

local function echo_progress(args)
  local data = args.data or {}
  local client = vim.lsp.get_client_by_id(data.client_id or -1)
  -- 0.11 names the progress `params`; early 0.10 releases named it `result`.
  local progress = data.params or data.result
  local value = progress and progress.value
  if not (client and client.name == 'tandem' and type(value) == 'table') then
    return
  end
  local token = tostring(progress.token)
  if value.kind == 'end' then
    titles[token] = nil
    vim.api.nvim_echo({ { '' } }, false, {})
    return
  end
  if value.title then
    titles[token] = value.title
  end
  local text = titles[token] or 'Tandem'
  if value.message then
    text = text .. ': ' .. value.message
  end
  if value.percentage then
    text = string.format('%s (%d%%)', text, math.floor(value.percentage))
  end
  vim.api.nvim_echo({ { text, 'TandemHint' } }, false, {})
end

local group = vim.api.nvim_create_augroup('tandem', { clear = true })

--- Inline completion follows the Tandem client into each buffer it attaches to.
local function completion_follows_the_client()
  local completion = require('tandem.completion')
  completion.detach_all()
  vim.api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == 'tandem' then
        completion.attach(client, args.buf)
      end
    end,
  })
  vim.api.nvim_create_autocmd('LspDetach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == 'tandem' then
        completion.detach(args.buf)
      end
    end,
  })
  -- Buffers the client is already attached to (setup called again).
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  for _, client in ipairs(get({ name = 'tandem' })) do
    for bufnr in pairs(client.attached_buffers or {}) do
      completion.attach(client, bufnr)
    end
  end
end

--- Sets Tandem up: see `:help tandem-setup`.
function M.setup(opts)
  M.config = merge(opts)
  -- Calling setup again replaces what the last call set up.
  vim.api.nvim_clear_autocmds({ group = group })
  highlights()
  vim.api.nvim_create_autocmd('ColorScheme', { group = group, callback = highlights })
  if M.config.progress then
    vim.api.nvim_create_autocmd('LspProgress', { group = group, callback = echo_progress })
  end
  completion_follows_the_client()
  if vim.lsp.config and vim.lsp.enable then
    vim.lsp.config('tandem', M.client_config())
    vim.lsp.enable('tandem')
  else
    local function start(bufnr)
      if vim.bo[bufnr].buftype ~= '' then
        return
      end
      local config = M.client_config()
      config.root_dir = vim.fs.root(bufnr, M.config.root_markers)
      vim.lsp.start(config, { bufnr = bufnr })
    end
    vim.api.nvim_create_autocmd('FileType', {
      group = group,
      pattern = M.config.filetypes,
      callback = function(args)
        start(args.buf)
      end,
    })
    -- Buffers already open (setup ran after their FileType, as lazy-loading does).
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      local served = vim.tbl_contains(M.config.filetypes, vim.bo[bufnr].filetype)
      if served and vim.api.nvim_buf_is_loaded(bufnr) then
        start(bufnr)
      end
    end
  end
  require('tandem.command').create()
end

--- Replaces the settings and tells the running servers (`workspace/didChangeConfiguration`).
function M.set_settings(settings)
  M.config.settings = settings or {}
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  for _, client in ipairs(get({ name = 'tandem' })) do
    client.settings = { tandem = M.server_settings() }
    lsp.notify(client, 'workspace/didChangeConfiguration', {
      settings = M.server_settings(),
    })
  end
end

return M
