--- `:Tandem {subcommand}`: turns the command's range (or the cursor) into the arguments of the
--- server's `tandem.*` commands, in the client's position encoding.
local lsp = require('tandem.lsp')

local M = {}

--- What each agent action takes besides the document: a range, a position, or nothing.
local ACTIONS = {
  explain = 'range',
  fix = 'range',
  edit = 'range',
  implement = 'position',
  document = 'position',
  tests = 'position',
  review = 'document',
}

M.subcommands = {
  'accept',
  'cancel',
  'document',
  'edit',
  'explain',
  'fix',
  'implement',
  'reject',
  'review',
  'rules',
  'status',
  'task',
  'tests',
}

local function notify(message, level)
  vim.notify(message, level or vim.log.levels.INFO, { title = 'Tandem' })
end

--- The LSP range the command works on: a characterwise Visual selection as selected, any other
--- range as whole lines, no range as the cursor (an empty range: the server takes the item
--- around it).
local function target_range(opts, bufnr, encoding)
  if opts.range == 0 then
    return vim.lsp.util.make_range_params(0, encoding).range
  end
  local first, last = opts.line1, opts.line2
  local from = vim.api.nvim_buf_get_mark(bufnr, '<')
  local to = vim.api.nvim_buf_get_mark(bufnr, '>')
  if opts.range == 2 and vim.fn.visualmode() == 'v' and from[1] == first and to[1] == last then
    local line = vim.api.nvim_buf_get_lines(bufnr, to[1] - 1, to[1], false)[1] or ''
    to[2] = math.max(0, math.min(to[2], #line - 1))
    return vim.lsp.util.make_given_range_params(from, to, bufnr, encoding).range
  end
  return {
    start = { line = first - 1, character = 0 },
    ['end'] = { line = last, character = 0 },
  }
end

local function target_position(opts, bufnr, encoding)
  if opts.range == 0 then
    return vim.lsp.util.make_position_params(0, encoding).position
  end
  return target_range(opts, bufnr, encoding).start
end

local function show_status(client, bufnr)
  lsp.execute(client, 'tandem.status', vim.empty_dict(), function(err, result)
    if err or type(result) ~= 'table' then
      local why = err and err.message or 'no answer'
      notify('Tandem: status failed: ' .. why, vim.log.levels.ERROR)
      return
    end
    local endpoint = result.endpoint or {}
    local model = (result.settings or {}).model or {}
    local lines = {
      string.format(
        'Tandem: model %s (%s) at %s: %s',
        model.name or '?',
        model.provider or '?',
        endpoint.url or '?',
        endpoint.state or '?'
      ),
    }
    local running = 0
    for _, job in ipairs(result.jobs or {}) do
      if job.status == 'running' then
        running = running + 1
      end
      -- A finished edit accepted or rejected shows that, not "done" (from the server's verdict;
      -- what this editor decided stands in for a server that does not report it).
      local verdict = job.verdict
      if verdict ~= 'accepted' and verdict ~= 'rejected' then
        verdict = require('tandem.jobs').verdict(client.id, job.jobId)
      end
      local shown = verdict or job.status
      local line = string.format('  job %s %s %s %s', job.jobId, job.action, shown, job.uri)
      table.insert(lines, line)
    end
    table.insert(lines, 2, string.format('  %d job(s) running', running))
    local c = result.completion
    if type(c) == 'table' then
      table.insert(
        lines,
        3,
        string.format(
          '  completion: %d shown, %d accepted (%d in part), %d dismissed; %d requests, '
            .. '%d model calls, %d from cache, %d cancelled, %d failed',
          c.shown or 0,
          c.accepted or 0,
          c.partlyAccepted or 0,
          c.dismissed or 0,
          c.requests or 0,
          c.modelCalls or 0,
          c.cacheHits or 0,
          c.cancelled or 0,
          c.failed or 0
        )
      )
    end
    notify(table.concat(lines, '\n'))
  end, bufnr)
end

--- Asks for an instruction with vim.ui.input, then calls `start` with it (unless none given).
function M.ask_instruction(prompt, start)
  vim.ui.input({ prompt = prompt }, function(input)
    if input and vim.trim(input) ~= '' then
      start(vim.trim(input))
    end
  end)
end

--- `:Tandem task {instruction}`: a task across the workspace. The current buffer, and the
--- command's range when one is given, say where the user stands; a buffer Tandem does not serve
--- sends neither (the task runs with any Tandem client).
local function task(opts, bufnr)
  local client = lsp.client_for(bufnr)
  local argument = {}
  if client then
    argument.uri = vim.uri_from_bufnr(bufnr)
    if opts.range > 0 then
      argument.range = target_range(opts, bufnr, client.offset_encoding)
    end
  else
    client = lsp.any_client()
  end
  if not client then
    notify('Tandem is not running (open a file it serves first)', vim.log.levels.ERROR)
    return
  end
  local start = function(instruction)
    argument.instruction = instruction
    require('tandem.jobs').start(client, bufnr, 'tandem.task', argument)
  end
  local instruction = vim.trim((opts.args:gsub('^%s*task', '', 1)))
  if instruction ~= '' then
    start(instruction)
  else
    M.ask_instruction('Tandem task: ', start)
  end
end

--- Runs `:Tandem`.
function M.run(opts)
  local sub = opts.fargs[1]
  local bufnr = vim.api.nvim_get_current_buf()
  if not sub then
    notify('Tandem: usage: :Tandem ' .. table.concat(M.subcommands, '|'), vim.log.levels.WARN)
    return
  end
  if sub == 'accept' then
    require('tandem.jobs').decide(bufnr, sub, tonumber(opts.fargs[2]))
    return
  end
  if sub == 'reject' then
    -- A number alone is a job id; any other text is the reason.
    local rest = vim.trim((opts.args:gsub('^%s*reject', '', 1)))
    local id = rest:match('^%d+$') and tonumber(rest) or nil
    local reason = (not id and rest ~= '') and rest or nil
    require('tandem.jobs').decide(bufnr, sub, id, reason)
    return
  end
  if sub == 'cancel' then
    require('tandem.jobs').cancel(bufnr, tonumber(opts.fargs[2]))
    return
  end
  if sub == 'task' then
    task(opts, bufnr)
    return
  end
  if sub == 'rules' then
    local client = lsp.client_for(bufnr) or lsp.any_client()
    local what = opts.fargs[2] or 'list'
    local rules = require('tandem.rules')
    if not client then
      notify('Tandem is not running (open a file it serves first)', vim.log.levels.ERROR)
    elseif what == 'list' or what == 'propose' or what == 'forget' then
      rules[what](client)
    else
      notify('Tandem: usage: :Tandem rules [propose|forget]', vim.log.levels.WARN)
    end
    return
  end
  local kind = ACTIONS[sub]
  if not kind and sub ~= 'status' then
    notify('Tandem: unknown subcommand ' .. sub, vim.log.levels.ERROR)
    return
  end
  local client = lsp.client_for(bufnr)
  if not client then
    notify(
      string.format('Tandem is not attached to this buffer (filetype %q)', vim.bo[bufnr].filetype),
      vim.log.levels.ERROR
    )
    return
  end
  if sub == 'status' then
    show_status(client, bufnr)
    return
  end
  local encoding = client.offset_encoding
  local argument = { uri = vim.uri_from_bufnr(bufnr) }
  if kind == 'range' then
    argument.range = target_range(opts, bufnr, encoding)
  elseif kind == 'position' then
    argument.position = target_position(opts, bufnr, encoding)
  end
  local start = function()
    require('tandem.jobs').start(client, bufnr, 'tandem.' .. sub, argument)
  end
  if sub ~= 'edit' then
    start()
    return
  end
  local instruction = vim.trim((opts.args:gsub('^%s*edit', '', 1)))
  if instruction ~= '' then
    argument.instruction = instruction
    start()
    return
  end
  M.ask_instruction('Tandem edit: ', function(input)
    argument.instruction = input
    start()
  end)
end

--- Completes the subcommands, job ids after accept, reject and cancel, and what `rules` does.
function M.complete(arglead, cmdline)
  local rest = cmdline:match('Tandem!?%s+(.*)$') or ''
  local words = vim.split(rest, '%s+', { trimempty = false })
  if #words <= 1 then
    return vim.tbl_filter(function(s)
      return vim.startswith(s, arglead)
    end, M.subcommands)
  end
  local sub = words[1]
  if #words == 2 and sub == 'rules' then
    return vim.tbl_filter(function(s)
      return vim.startswith(s, arglead)
    end, { 'propose', 'forget' })
  end
  if #words == 2 and (sub == 'accept' or sub == 'reject' or sub == 'cancel') then
    return vim.tbl_filter(function(id)
      return vim.startswith(id, arglead)
    end, require('tandem.jobs').ids(vim.api.nvim_get_current_buf()))
  end
  return {}
end

function M.create()
  vim.api.nvim_create_user_command('Tandem', M.run, {
    nargs = '*',
    range = true,
    complete = M.complete,
    desc = 'Tandem: run an action or a task, decide on a finished edit, see rules or the status',
  })
end

return M
