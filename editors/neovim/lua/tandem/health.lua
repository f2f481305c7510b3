--- `:checkhealth tandem`: the binary, its version, the model endpoint through `tandem doctor`,
--- and what each running Tandem server last saw of its endpoint.
local lsp = require('tandem.lsp')

local M = {}

local function lines_of(text)
  local out = {}
  for _, line in ipairs(vim.split(text or '', '\n', { plain = true })) do
    if vim.trim(line) ~= '' then
      table.insert(out, line)
    end
  end
  return out
end

local function get_clients()
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  return get({ name = 'tandem' })
end

--- Where `tandem doctor` runs: it reads the workspace file `.tandem/config.toml` of the
--- current directory, so run it at the root of a running server's workspace when there is one.
local function doctor_cwd()
  for _, client in ipairs(get_clients()) do
    if client.root_dir then
      return client.root_dir
    end
  end
  return vim.fn.getcwd()
end

local function strip_slash(url)
  return (url or ''):gsub('/+$', '')
end

--- The ways the endpoint an old `tandem doctor` (without `--settings`) checked differs from
--- the one the plugin's settings name.
local function differences(model, provider, url, name)
  local out = {}
  if type(model) ~= 'table' then
    return out
  end
  if model.provider and provider and model.provider ~= provider then
    table.insert(out, string.format('provider %s (doctor: %s)', model.provider, provider))
  end
  if model.baseUrl and url and strip_slash(model.baseUrl) ~= strip_slash(url) then
    table.insert(out, string.format('baseUrl %s (doctor: %s)', model.baseUrl, url))
  end
  if model.name and name and model.name ~= name then
    table.insert(out, string.format('name %s (doctor: %s)', model.name, name))
  end
  return out
end

--- What to do when there is no binary: the build step, an install, or the `cmd` setting.
local function how_to_get_one(server)
  local advice = {}
  if server.has_sources() then
    table.insert(
      advice,
      string.format(
        'Build it in the plugin\'s checkout: `%s` in %s (with lazy.nvim, put'
          .. ' `build = "%s"` in the spec and run `:Lazy build tandem`)',
        server.BUILD,
        server.checkout(),
        server.BUILD
      )
    )
  end
  table.insert(
    advice,
    'Or install it on $PATH: `cargo install --locked --path server` in a clone of the Tandem'
      .. ' repository'
  )
  table.insert(
    advice,
    'Or name a binary: require("tandem").setup({ cmd = { "/path/to/tandem" } })'
  )
  return advice
end

--- Finds the binary the plugin starts and reports it with its version.
--- @return string|nil the executable, when there is one
local function check_binary(health, setting)
  local server = require('tandem.server')
  local cmd, from = server.resolve(setting)
  local exe = cmd[1]
  if from == 'setting' and vim.fn.executable(exe) ~= 1 then
    health.error(string.format('the `cmd` setting names `%s`, which is not executable', exe), {
      'Fix `cmd` in require("tandem").setup{}, or remove it to use `tandem` on $PATH or the'
        .. ' build in the plugin\'s checkout',
    })
    return nil
  end
  if from == nil then
    health.error(
      string.format(
        'no `tandem` binary: none on $PATH, no `cmd` setting, and none built at %s',
        server.built()
      ),
      how_to_get_one(server)
    )
    return nil
  end
  local why = ({
    setting = 'the `cmd` setting',
    PATH = '$PATH',
    checkout = 'the build in the plugin\'s checkout',
  })[from]
  health.ok(string.format('`%s` is executable: %s (from %s)', exe, vim.fn.exepath(exe), why))
  local version = vim.system({ exe, '--version' }, { text = true }):wait(10000)
  if version.code == 0 then
    health.ok('version: ' .. vim.trim(version.stdout or ''))
  else
    health.error('`' .. exe .. ' --version` failed: ' .. vim.trim(version.stderr or ''))
  end
  return exe
end

--- Runs `tandem doctor` with the plugin's settings (`--settings JSON`, over the files, as the
--- server gets them); a binary too old for `--settings` is run without them.
--- @return vim.SystemCompleted done, boolean with_settings
local function doctor(exe, cwd, settings)
  local args = { exe, 'doctor', '--settings', vim.json.encode(lsp.object(settings)) }
  local done = vim.system(args, { text = true, cwd = cwd }):wait(60000)
  if done.code == 2 and (done.stderr or ''):find('--settings', 1, true) then
    return vim.system({ exe, 'doctor' }, { text = true, cwd = cwd }):wait(60000), false
  end
  return done, true
end

local function check_doctor(health, exe, settings)
  local cwd = doctor_cwd()
  health.info('running `tandem doctor` with the plugin\'s settings in ' .. cwd)
  local done, with_settings = doctor(exe, cwd, settings)
  for _, line in ipairs(lines_of(done.stdout)) do
    health.info(line)
  end
  for _, line in ipairs(lines_of(done.stderr)) do
    health.info(line)
  end
  local checking = 'Checking (%S+) at (%S+) for model `([^`]*)`'
  local provider, url, name = (done.stdout or ''):match(checking)
  local differ = {}
  if not with_settings then
    differ = differences(settings and settings.model, provider, url, name)
  end
  local where = url and string.format('%s (model `%s`)', url, name) or 'the model endpoint'
  if #differ > 0 then
    health.warn(
      string.format(
        '`tandem doctor` checked %s, which is not what setup{} configures: %s',
        where,
        table.concat(differ, ', ')
      ),
      {
        'This tandem is too old for `doctor --settings`: it read only the config files and the'
          .. ' environment; see "running servers" below for the endpoint the editor uses',
      }
    )
  elseif done.code == 0 then
    health.ok('the model endpoint ' .. where .. ' is reachable: the model answered')
  elseif done.code == 124 then
    health.error('`tandem doctor` did not finish within 60 s')
  elseif done.code == 2 then
    health.error('`tandem doctor` refused the settings: ' .. vim.trim(done.stderr or ''), {
      'Check the settings passed to require("tandem").setup{} (see :help tandem-settings)',
    })
  else
    health.error('the model endpoint ' .. where .. ' cannot be reached', {
      'Check model.baseUrl, model.name and model.apiKeyEnv in the settings'
        .. ' (see :help tandem-settings)',
    })
  end
end

local function check_servers(health)
  local clients = get_clients()
  if #clients == 0 then
    health.info('no Tandem server is running (open a file Tandem serves)')
    return
  end
  for _, client in ipairs(clients) do
    local answer = lsp.request_sync(
      client,
      'workspace/executeCommand',
      { command = 'tandem.status', arguments = { vim.empty_dict() } },
      5000
    )
    local status = answer and answer.result
    local label = string.format('server %d (%s)', client.id, client.root_dir or 'no workspace')
    if type(status) ~= 'table' then
      local why = answer and answer.err and answer.err.message or 'no answer within 5 s'
      health.error(label .. ': tandem.status failed: ' .. why)
    else
      local endpoint = status.endpoint or {}
      local url = endpoint.url or '?'
      if endpoint.state == 'ok' then
        health.ok(string.format('%s: the model endpoint %s answered its last request', label, url))
      elseif endpoint.state == 'unreachable' then
        health.error(string.format('%s: the model endpoint %s could not be reached', label, url))
      else
        health.info(string.format('%s: endpoint %s, not asked yet', label, url))
      end
    end
  end
end

function M.check()
  local health = vim.health
  local config = require('tandem').config
  health.start('tandem: the binary')
  local exe = check_binary(health, config.cmd)
  if not exe then
    return
  end
  health.start('tandem: the model endpoint (tandem doctor)')
  check_doctor(health, exe, require('tandem').server_settings())
  health.start('tandem: running servers')
  check_servers(health)
end

return M
