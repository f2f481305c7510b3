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

local function check_binary(health, exe)
  if vim.fn.executable(exe) ~= 1 then
    health.error(string.format('`%s` is not executable or not on $PATH', exe), {
      'Build or install Tandem (`cargo install --path server`),'
        .. ' or set `cmd` in require("tandem").setup{}',
    })
    return false
  end
  health.ok(string.format('`%s` is executable: %s', exe, vim.fn.exepath(exe)))
  local version = vim.system({ exe, '--version' }, { text = true }):wait(10000)
  if version.code == 0 then
    health.ok('version: ' .. vim.trim(version.stdout or ''))
  else
    health.error('`' .. exe .. ' --version` failed: ' .. vim.trim(version.stderr or ''))
  end
  return true
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
  local exe = config.cmd[1]
  health.start('tandem: the binary')
  if not check_binary(health, exe) then
    return
  end
  health.start('tandem: the model endpoint (tandem doctor)')
  check_doctor(health, exe, config.settings)
  health.start('tandem: running servers')
  check_servers(health)
end

return M
