-- Shared helpers of the Neovim editor tests: run a test body after startup, wait for
-- conditions, drive the scripted model server over HTTP, and end with a clear verdict.
--
-- The Rust side (tests/tests/editor_neovim.rs) sets TANDEM_BIN, TANDEM_PLUGIN,
-- TANDEM_MODEL_URL (the model's base URL) and TANDEM_CONTROL_URL (the scripted server).
local H = {}

--- How long any one wait lasts before the test fails.
H.WAIT = 20000

function H.env(name)
  local value = os.getenv(name)
  if not value or value == '' then
    error('the environment variable ' .. name .. ' is not set', 2)
  end
  return value
end

function H.log(message)
  io.stdout:write(message .. '\n')
  io.stdout:flush()
end

local function dump()
  local out = {}
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].buftype == '' then
      table.insert(out, string.format('--- buffer %d %s ---', buf, vim.api.nvim_buf_get_name(buf)))
      vim.list_extend(out, vim.api.nvim_buf_get_lines(buf, 0, -1, false))
    end
  end
  table.insert(out, '--- messages ---')
  table.insert(out, vim.fn.execute('messages'))
  return table.concat(out, '\n')
end

function H.fail(reason)
  io.stderr:write('FAIL: ' .. tostring(reason) .. '\n' .. dump() .. '\n')
  io.stderr:flush()
  vim.cmd('cquit! 1')
end

--- Adds the plugin to the runtimepath and sets it up with the scripted model; `opts` are
--- merged over the test defaults.
function H.setup(opts)
  vim.opt.runtimepath:prepend(H.env('TANDEM_PLUGIN'))
  local defaults = {
    cmd = { H.env('TANDEM_BIN') },
    settings = {
      model = { provider = 'openai', baseUrl = H.env('TANDEM_MODEL_URL'), name = 'test-model' },
      hover = { enabled = false },
    },
  }
  -- Suggestions are off unless the case is about them: the scripted model answers any request
  -- with the next queued reply, so a suggestion asked while typing could take a job's.
  local about_completion = opts and (opts.completion ~= nil or (opts.settings or {}).completion)
  if not about_completion then
    defaults.completion = false
  end
  require('tandem').setup(vim.tbl_deep_extend('force', defaults, opts or {}))
end

--- Runs `body` once Neovim has started and loaded the file, then quits: `qall!` when it
--- returned, `cquit! 1` with the reason when it raised.
function H.run(body)
  vim.api.nvim_create_autocmd('VimEnter', {
    once = true,
    callback = function()
      vim.schedule(function()
        local ok, err = xpcall(body, debug.traceback)
        if ok then
          H.log('PASS')
          vim.cmd('qall!')
        else
          H.fail(err)
        end
      end)
    end,
  })
end

--- Waits until `cond()` holds, failing the test with `what` after `ms` (default H.WAIT).
function H.wait(what, cond, ms)
  if not vim.wait(ms or H.WAIT, cond, 20) then
    error('timed out waiting for ' .. what, 2)
  end
end

function H.check(cond, message)
  if not cond then
    error(message, 2)
  end
end

function H.lines(buf)
  return vim.api.nvim_buf_get_lines(buf or 0, 0, -1, false)
end

function H.text(buf)
  return table.concat(H.lines(buf), '\n')
end

--- Fails unless the buffer holds exactly `expected`.
function H.expect_lines(buf, expected, what)
  local got = H.lines(buf)
  if not vim.deep_equal(got, expected) then
    local want, have = table.concat(expected, '\n'), table.concat(got, '\n')
    error(string.format('%s: expected\n%s\ngot\n%s', what, want, have), 2)
  end
end

--- The Tandem client of `buf`, once it is attached and initialized.
function H.client(buf)
  local client
  H.wait('the tandem client to attach', function()
    client = vim.lsp.get_clients({ bufnr = buf, name = 'tandem' })[1]
    return client ~= nil and client.initialized == true
  end)
  return client
end

--- Records every `tandem/jobFinished` the plugin saw (through its `User TandemJobFinished`).
H.finished = {}
vim.api.nvim_create_autocmd('User', {
  pattern = 'TandemJobFinished',
  callback = function(args)
    table.insert(H.finished, args.data)
  end,
})

--- Waits for the `n`th job to finish and returns its notification.
function H.wait_finished(n)
  n = n or 1
  H.wait('job ' .. n .. ' to finish', function()
    return #H.finished >= n
  end)
  return H.finished[n]
end

--- The plugin's extmarks in `buf` whose highlight is `group`.
function H.marks(buf, group)
  local ns = require('tandem.jobs').ns
  local found = {}
  for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })) do
    if mark[4].hl_group == group then
      table.insert(found, mark)
    end
  end
  return found
end

-- The scripted model server's control routes -----------------------------------------------

function H.http(method, path, body)
  local url = H.env('TANDEM_CONTROL_URL') .. path
  local args = { 'curl', '-sS', '--max-time', '10', '-X', method, url }
  if body then
    local json = vim.json.encode(body)
    vim.list_extend(args, { '-H', 'content-type: application/json', '--data-binary', json })
  end
  local done = vim.system(args, { text = true }):wait(15000)
  if done.code ~= 0 then
    error(string.format('%s %s failed: %s', method, path, done.stderr or ''), 2)
  end
  return vim.json.decode(done.stdout)
end

--- Queues a streamed reply: `opts.gated` holds every chunk until released, `opts.delayMs`
--- waits before each.
function H.push(deltas, opts)
  opts = opts or {}
  return H.http('POST', '/__scripted/push', {
    wire = 'openai',
    deltas = deltas,
    gated = opts.gated or false,
    delayMs = opts.delayMs or 0,
  })
end

function H.release(n)
  return H.http('POST', '/__scripted/release', { n = n or 1 })
end

function H.requests()
  return H.http('GET', '/__scripted/requests')
end

--- Loads this folder's helpers from a case file: `local H = dofile(...)`.
function H.dir()
  return vim.fs.dirname(debug.getinfo(2, 'S').source:sub(2))
end

return H
