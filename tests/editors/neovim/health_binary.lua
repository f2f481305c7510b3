-- Which binary the plugin finds when setup{} has no `cmd` and $PATH has no `tandem`, and what
-- :checkhealth tandem says about it. TANDEM_PLUGIN is the plugin inside a checkout made for
-- the test; TANDEM_TEST_BINARY is `missing` (the checkout has no target/release/tandem) or
-- `built` (it has one).
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
local plugin = H.env('TANDEM_PLUGIN')
vim.opt.runtimepath:prepend(plugin)
require('tandem').setup({
  settings = {
    model = { provider = 'openai', baseUrl = H.env('TANDEM_MODEL_URL'), name = 'test-model' },
    hover = { enabled = false },
  },
})

local function report(done)
  vim.cmd('checkhealth tandem')
  local lines
  H.wait('the health report', function()
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.bo[b].filetype == 'checkhealth' then
        lines = H.lines(b)
        return done(table.concat(lines, '\n'))
      end
    end
    return false
  end)
  local text = table.concat(lines, '\n')
  H.log(text)
  return text
end

local function has(text, needle, what)
  H.check(text:find(needle, 1, true) ~= nil, 'the report has no ' .. what .. ':\n' .. text)
end

H.run(function()
  H.check(vim.fn.executable('tandem') == 0, 'the test needs a $PATH without tandem')
  local checkout = vim.fn.fnamemodify(plugin, ':p:h:h:h')
  local built = checkout .. '/target/release/tandem'
  if H.env('TANDEM_TEST_BINARY') == 'missing' then
    local text = report(function(t)
      return t:find('ERROR', 1, true) ~= nil
    end)
    local cause = 'no `tandem` binary: none on $PATH, no `cmd` setting, and none built at '
    has(text, cause .. built, 'cause')
    has(text, '`cargo build --release -p tandem` in ' .. checkout, 'build command')
    has(text, 'build = "cargo build --release -p tandem"', 'lazy.nvim build step')
    has(text, 'cargo install --locked --path server', 'install command')
    has(text, 'cmd = { "/path/to/tandem" }', 'cmd setting')
  else
    local client = H.client(vim.api.nvim_get_current_buf())
    H.check(
      client.config.cmd[1] == built,
      'the plugin started ' .. vim.inspect(client.config.cmd) .. ', not ' .. built
    )
    local text = report(function(t)
      return t:find('running servers', 1, true) ~= nil
    end)
    local from = " (from the build in the plugin's checkout)"
    has(text, '`' .. built .. '` is executable: ' .. built .. from, 'binary')
    has(text, 'version: tandem', 'version')
    H.check(not text:find('ERROR', 1, true), 'the report has errors')
  end
end)
