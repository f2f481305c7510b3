--- Tandem's jobs as this editor sees them: which job streams where (an extmark over its
--- region), a task's steps (`tandem/jobStep`), how each ends (a notification, an explanation's
--- or a task's summary in a float, a finished edit awaiting accept or reject), and the quiet
--- `workspace/applyEdit` handler that grows the marks. A job that ends naming the files it
--- changed (any action an ACP agent runs, `model.provider = "acp"`) ends like a task.
--- The server does the work; this module only shows it.
local lsp = require('tandem.lsp')
local ui = require('tandem.ui')

local M = {}

--- The namespace of the plugin's extmarks.
M.ns = ui.ns

--- @class tandem.Job
--- @field client_id integer
--- @field bufnr integer the buffer the job was started from
--- @field uri string
--- @field action string explain, fix, implement, document, tests, edit, review, task
--- @field id integer? the server's jobId, once the command has answered
--- @field seq integer creation order, for "the most recent job"
--- @field status string running, done, failed, cancelled
--- @field mark integer? extmark over the streaming region (in `bufnr`)
--- @field review {bufnr: integer, mark: integer?, buffers: integer[]?}? a finished edit awaiting
--- accept/reject (a task's has no mark, and `buffers`, those of the files it touched)
--- @field steps table[]? a task's steps so far (`tandem/jobStep`)

--- Jobs by "client:jobId".
--- @type table<string, tandem.Job>
local jobs = {}
--- Jobs whose command has not answered yet.
--- @type tandem.Job[]
local pending = {}
--- `tandem/jobFinished` notifications that arrived before their command's answer.
local early = {}
--- "accepted" or "rejected" by "client:jobId", for the jobs this editor decided: the server's
--- `tandem.status` says only how a job ended (a rejected job stays "done" there).
--- @type table<string, string>
local verdicts = {}
local seq = 0

local function key(client_id, id)
  return client_id .. ':' .. tostring(id)
end

local function config()
  return require('tandem').config
end

--- Whether `job`'s finished edit awaiting review is in `bufnr` (a task's may be in several).
local function reviewed_in(job, bufnr)
  local review = job.review
  if not review then
    return false
  end
  return review.bufnr == bufnr or vim.tbl_contains(review.buffers or {}, bufnr)
end

--- Jobs in `bufnr` that match `pred`, most recent first.
--- @return tandem.Job[]
local function jobs_in(bufnr, pred)
  local found = {}
  local function consider(job)
    if (job.bufnr == bufnr or reviewed_in(job, bufnr)) and pred(job) then
      table.insert(found, job)
    end
  end
  for _, job in pairs(jobs) do
    consider(job)
  end
  for _, job in ipairs(pending) do
    consider(job)
  end
  table.sort(found, function(a, b)
    return a.seq > b.seq
  end)
  return found
end

--- The most recent job in `bufnr` that matches `pred`.
--- @return tandem.Job?
function M.latest(bufnr, pred)
  return jobs_in(bufnr, pred or function()
    return true
  end)[1]
end

--- Known job ids in `bufnr`, most recent first (for command completion).
function M.ids(bufnr)
  local ids = {}
  for _, job in ipairs(jobs_in(bufnr, function(j)
    return j.id ~= nil
  end)) do
    table.insert(ids, tostring(job.id))
  end
  return ids
end

-- Review: a finished edit awaiting accept or reject ------------------------------------------

local function hint()
  local keys = config().keymaps
  local accept = keys and keys.accept
  local reject = keys and keys.reject
  if accept and reject then
    return string.format('Tandem: %s accept · %s reject', accept, reject)
  end
  return 'Tandem: :Tandem accept · :Tandem reject'
end

--- Sets or removes the buffer-local accept/reject keys, depending on whether a job in
--- `bufnr` still awaits review.
local function sync_keymaps(bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  local keys = config().keymaps
  local waiting = M.latest(bufnr, function(j)
    return reviewed_in(j, bufnr)
  end)
  local installed = vim.b[bufnr].tandem_review_keys
  if waiting and keys and not installed then
    local set = {}
    for _, verdict in ipairs({ 'accept', 'reject' }) do
      local lhs = keys[verdict]
      if lhs then
        vim.keymap.set('n', lhs, function()
          M.decide(bufnr, verdict)
        end, { buffer = bufnr, desc = 'Tandem: ' .. verdict .. ' the finished edit' })
        table.insert(set, lhs)
      end
    end
    vim.b[bufnr].tandem_review_keys = set
  elseif not waiting and installed then
    for _, lhs in ipairs(installed) do
      pcall(vim.keymap.del, 'n', lhs, { buffer = bufnr })
    end
    vim.b[bufnr].tandem_review_keys = nil
  end
end

local function start_review(job, bufnr, range, encoding)
  if not vim.api.nvim_buf_is_loaded(bufnr) then
    return
  end
  local srow, scol = lsp.to_buf_pos(bufnr, range.start, encoding)
  local erow, ecol = lsp.to_buf_pos(bufnr, range['end'], encoding)
  local mark = ui.set_mark(bufnr, nil, srow, scol, erow, ecol, {
    hl_group = 'TandemReview',
    virt_text = { { hint(), 'TandemHint' } },
    virt_text_pos = 'eol',
  })
  job.review = { bufnr = bufnr, mark = mark }
  sync_keymaps(bufnr)
end

--- A finished task awaits review in the loaded buffers of the files it touched (no mark: the
--- server names the files, not the regions).
local function start_task_review(job, files)
  local buffers = {}
  for _, file in ipairs(files) do
    local bufnr = vim.uri_to_bufnr(file.uri)
    if vim.api.nvim_buf_is_loaded(bufnr) then
      table.insert(buffers, bufnr)
    end
  end
  job.review = { bufnr = job.bufnr, buffers = buffers }
  sync_keymaps(job.bufnr)
  for _, bufnr in ipairs(buffers) do
    sync_keymaps(bufnr)
  end
end

local function end_review(job)
  if not job.review then
    return
  end
  local review = job.review
  ui.del_mark(review.bufnr, review.mark)
  job.review = nil
  sync_keymaps(review.bufnr)
  for _, bufnr in ipairs(review.buffers or {}) do
    sync_keymaps(bufnr)
  end
end

-- Starting jobs -------------------------------------------------------------------------------

--- How many ended jobs are remembered (for :Tandem accept/reject/cancel without an id).
local KEEP = 50

--- Forgets the oldest ended jobs beyond KEEP; running ones and ones awaiting review stay.
local function prune()
  local ended = {}
  for k, job in pairs(jobs) do
    if job.status ~= 'running' and not job.review then
      table.insert(ended, { k = k, seq = job.seq })
    end
  end
  table.sort(ended, function(a, b)
    return a.seq > b.seq
  end)
  for i = KEEP + 1, #ended do
    jobs[ended[i].k] = nil
  end
end

local function forget_pending(job)
  for i, p in ipairs(pending) do
    if p == job then
      table.remove(pending, i)
      return
    end
  end
end

local function forget(job)
  ui.del_mark(job.bufnr, job.mark)
  job.mark = nil
  forget_pending(job)
end

local finish

--- Starts an agent action on the server: `command` is `tandem.<action>`, `argument` its one
--- argument. Marks the target range at once, so the region shows before the first edit.
--- @param client vim.lsp.Client
--- @param bufnr integer
--- @param command string
--- @param argument table
function M.start(client, bufnr, command, argument)
  prune()
  seq = seq + 1
  --- @type tandem.Job
  local job = {
    client_id = client.id,
    bufnr = bufnr,
    uri = argument.uri or vim.uri_from_bufnr(bufnr),
    action = (command:gsub('^tandem%.', '')),
    seq = seq,
    status = 'running',
  }
  -- A task's range says where the user stands, not what it rewrites: nothing to mark.
  if argument.range and job.action ~= 'task' and vim.api.nvim_buf_is_loaded(bufnr) then
    local srow, scol = lsp.to_buf_pos(bufnr, argument.range.start, client.offset_encoding)
    local erow, ecol = lsp.to_buf_pos(bufnr, argument.range['end'], client.offset_encoding)
    job.mark = ui.set_mark(bufnr, nil, srow, scol, erow, ecol)
  end
  table.insert(pending, job)
  lsp.execute(client, command, argument, function(err, result)
    if err or type(result) ~= 'table' or result.jobId == nil then
      forget(job)
      job.status = 'failed'
      local why = err and (err.message or tostring(err)) or 'the server gave no job id'
      ui.notify(string.format('Tandem: %s refused: %s', job.action, why), vim.log.levels.ERROR)
      return
    end
    forget_pending(job)
    job.id = result.jobId
    jobs[key(job.client_id, job.id)] = job
    local finished = early[key(job.client_id, job.id)]
    if finished then
      early[key(job.client_id, job.id)] = nil
      finish(job, finished)
    end
  end, bufnr)
  return job
end

-- Streamed edits ------------------------------------------------------------------------------

--- The running job of `action` in `bufnr` that an edit over rows srow..erow belongs to: the
--- one whose region those rows touch, else the most recent one that has no region yet (a job
--- given a position, before its first edit). A reject's edit belongs to none.
local function owner(client_id, bufnr, action, srow, erow)
  local candidates = jobs_in(bufnr, function(j)
    return j.client_id == client_id
      and j.action == action
      and j.status == 'running'
      and j.bufnr == bufnr
  end)
  for _, job in ipairs(candidates) do
    local sr, _, er = ui.extent(bufnr, job.mark)
    if sr and sr <= erow and srow <= er then
      return job
    end
  end
  for _, job in ipairs(candidates) do
    if not ui.extent(bufnr, job.mark) then
      return job
    end
  end
end

--- Grows the owning job's mark over the text an edit just inserted.
local function grow(client_id, action, bufnr, srow, scol, text)
  local erow, ecol = lsp.end_of_insert(srow, scol, text)
  local job = owner(client_id, bufnr, action, srow, erow)
  if not job then
    return
  end
  local sr, sc, er, ec = ui.extent(bufnr, job.mark)
  if sr then
    if lsp.before(sr, sc, srow, scol) then
      srow, scol = sr, sc
    end
    if lsp.before(erow, ecol, er, ec) then
      erow, ecol = er, ec
    end
  end
  job.mark = ui.set_mark(bufnr, job.mark, srow, scol, erow, ecol)
end

--- The first change annotation of `edit` that asks for confirmation, if any.
local function needs_confirmation(edit)
  for _, annotation in pairs(edit.changeAnnotations or {}) do
    if type(annotation) == 'table' and annotation.needsConfirmation then
      return annotation
    end
  end
  return nil
end

--- `workspace/applyEdit`, quieter than the stock handler (no message per streamed edit) and
--- honest about stale edits: one computed against an older version of the buffer is refused
--- with `applied: false` instead of being dropped silently, so the server recomputes it. An
--- edit that asks for confirmation (`edits.mode = "preview"`) is applied only when the user
--- says so (`confirm()`); a declined one is answered `applied: false`.
function M.on_apply_edit(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not client then
    return { applied = false, failureReason = 'the Tandem client has stopped' }
  end
  local edit = params.edit or {}
  local encoding = client.offset_encoding
  local inserted = {}
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument and change.edits then
      local bufnr = vim.uri_to_bufnr(change.textDocument.uri)
      local version = change.textDocument.version
      -- 0 is a real version: Neovim reports a buffer opened and never changed at 0.
      if type(version) == 'number' and version >= 0 and vim.api.nvim_buf_is_loaded(bufnr) then
        local current = vim.lsp.util.buf_versions[bufnr] or vim.b[bufnr].changedtick
        if current > version then
          return {
            applied = false,
            failureReason = string.format(
              'the buffer is at version %d, newer than the edit (version %d)',
              current,
              version
            ),
          }
        end
      end
      -- The server sends one text edit per request; marks only matter in loaded buffers.
      if #change.edits == 1 and vim.api.nvim_buf_is_loaded(bufnr) then
        local text_edit = change.edits[1]
        local srow, scol = lsp.to_buf_pos(bufnr, text_edit.range.start, encoding)
        local ins = { bufnr = bufnr, srow = srow, scol = scol, text = text_edit.newText }
        table.insert(inserted, ins)
      end
    end
  end
  -- Preview mode: the one edit carries an annotation asking for confirmation.
  local annotation = needs_confirmation(edit)
  if annotation then
    local question = annotation.label or params.label or 'Tandem'
    if type(annotation.description) == 'string' and annotation.description ~= '' then
      question = question .. '\n' .. annotation.description
    end
    if vim.fn.confirm(question, '&Apply\n&Decline', 1, 'Question') ~= 1 then
      return { applied = false, failureReason = 'you declined the edit' }
    end
  end
  local ok, err = pcall(vim.lsp.util.apply_workspace_edit, edit, encoding)
  if not ok then
    return { applied = false, failureReason = tostring(err) }
  end
  local action = type(params.label) == 'string' and params.label:match('^Tandem: (%a+)$')
  -- A task's edits go anywhere in any file: no region grows with them.
  if action and action ~= 'task' then
    for _, ins in ipairs(inserted) do
      grow(client.id, action, ins.bufnr, ins.srow, ins.scol, ins.text)
    end
  end
  return { applied = true }
end

-- A task's steps ---------------------------------------------------------------------------

--- One step in words: "Tandem: task step 2 · edit_file src/api.rs · edited src/api.rs";
--- `action` (default "task") names the job's action, as an ACP agent's steps come from any.
function M.step_text(step, action)
  local text = string.format(
    'Tandem: %s step %s · %s',
    action or 'task',
    tostring(step.step),
    tostring(step.tool)
  )
  if type(step.path) == 'string' and step.path ~= '' then
    text = text .. ' ' .. step.path
  end
  if type(step.summary) == 'string' and step.summary ~= '' then
    text = text .. ' · ' .. step.summary
  end
  return text
end

--- `tandem/jobStep`: a task's step, told with vim.notify as it happens and kept with the job.
function M.on_job_step(_, params, ctx)
  if type(params) ~= 'table' or params.jobId == nil then
    return
  end
  local job = jobs[key(ctx.client_id, params.jobId)]
  if job then
    job.steps = job.steps or {}
    table.insert(job.steps, params)
  end
  -- A step may come before its command's answer: then it is the latest pending job's.
  local named = job
  if not named then
    for _, p in ipairs(pending) do
      if p.client_id == ctx.client_id and (not named or p.seq > named.seq) then
        named = p
      end
    end
  end
  ui.notify(M.step_text(params, named and named.action))
end

--- A task's summary, then the files it touched.
local function task_markdown(summary, files)
  local parts = { (type(summary) == 'string' and vim.trim(summary) ~= '') and summary
    or '*The task ended without a summary.*' }
  if #files > 0 then
    table.insert(parts, '')
    table.insert(parts, '---')
    table.insert(parts, '')
    table.insert(parts, '**Files**')
    table.insert(parts, '')
    for _, file in ipairs(files) do
      local name = vim.fn.fnamemodify(vim.uri_to_fname(file.uri), ':~:.')
      table.insert(parts, string.format('- `%s`%s', name, file.created and ' (created)' or ''))
    end
  end
  return table.concat(parts, '\n')
end

--- A finished task, or any job that names the files it changed: its summary opens in a float,
--- like an explanation, and the files it touched await accept or reject together.
local function finish_task(job, result, message)
  local files = {}
  for _, file in ipairs(type(result.files) == 'table' and result.files or {}) do
    if type(file) == 'table' and type(file.uri) == 'string' then
      table.insert(files, file)
    end
  end
  ui.show_markdown(task_markdown(result.markdown, files))
  local text
  if #files == 0 then
    text = string.format('Tandem: %s done; it changed no file', job.action)
  else
    local names = {}
    for _, file in ipairs(files) do
      table.insert(names, vim.fn.fnamemodify(vim.uri_to_fname(file.uri), ':t'))
    end
    local changed = table.concat(names, ', ')
    text = string.format('Tandem: %s done: %d file(s) changed (%s)', job.action, #files, changed)
    start_task_review(job, files)
  end
  if message then
    text = text .. ': ' .. message
  end
  if job.review then
    text = text .. ' (' .. hint():gsub('^Tandem: ', '') .. ')'
  end
  ui.notify(text, message and vim.log.levels.WARN or vim.log.levels.INFO)
end

-- A job's end ---------------------------------------------------------------------------------

local EDITING = { fix = true, implement = true, document = true, tests = true, edit = true }

function finish(job, params)
  job.status = params.status or 'done'
  ui.del_mark(job.bufnr, job.mark)
  job.mark = nil
  -- After the outcome is shown, so that listeners see the review marks and keys in place.
  vim.schedule(function()
    vim.api.nvim_exec_autocmds('User', {
      pattern = 'TandemJobFinished',
      modeline = false,
      data = vim.tbl_extend('force', params, { client_id = job.client_id, bufnr = job.bufnr }),
    })
  end)
  local client = vim.lsp.get_client_by_id(job.client_id)
  local result = type(params.result) == 'table' and params.result or {}
  local message = type(params.message) == 'string' and params.message or nil
  local what = 'Tandem: ' .. job.action
  if job.status == 'done' then
    -- An action run by an ACP agent keeps its name (fix, ...) but, like a task, may have
    -- changed any files: the server names them.
    if job.action == 'task' or type(result.files) == 'table' then
      finish_task(job, result, message)
      return
    end
    -- An explanation, and a review an ACP agent answered in words (the server's own review
    -- reports findings instead).
    if type(result.markdown) == 'string' then
      ui.show_markdown(result.markdown)
      if message then
        ui.notify(what .. ': ' .. message)
      end
      return
    end
    if EDITING[job.action] and type(result.range) == 'table' and client then
      local bufnr = type(result.uri) == 'string' and vim.uri_to_bufnr(result.uri) or job.bufnr
      start_review(job, bufnr, result.range, client.offset_encoding)
    end
    local text = what .. ' done'
    if job.action == 'review' and result.findings ~= nil then
      text = string.format('%s: %d finding(s)', what, result.findings)
    end
    if message then
      text = text .. ': ' .. message
    end
    if job.review then
      text = text .. ' (' .. hint():gsub('^Tandem: ', '') .. ')'
    end
    ui.notify(text, message and vim.log.levels.WARN or vim.log.levels.INFO)
  elseif job.status == 'cancelled' then
    ui.notify(what .. ' cancelled' .. (message and (': ' .. message) or ''), vim.log.levels.WARN)
  else
    ui.notify(what .. ' failed' .. (message and (': ' .. message) or ''), vim.log.levels.ERROR)
  end
end

--- `tandem/jobFinished`.
function M.on_job_finished(_, params, ctx)
  if type(params) ~= 'table' or params.jobId == nil then
    return
  end
  local k = key(ctx.client_id, params.jobId)
  local job = jobs[k]
  if job then
    finish(job, params)
    return
  end
  local waiting = false
  for _, p in ipairs(pending) do
    if p.client_id == ctx.client_id and p.action == params.action then
      waiting = true
    end
  end
  if waiting then
    early[k] = params
    return
  end
  -- A job this editor did not start through the plugin: still show how it ended.
  seq = seq + 1
  job = {
    client_id = ctx.client_id,
    bufnr = vim.uri_to_bufnr(params.uri),
    uri = params.uri,
    action = params.action or 'job',
    id = params.jobId,
    seq = seq,
    status = 'running',
  }
  jobs[k] = job
  finish(job, params)
end

-- Deciding and cancelling ---------------------------------------------------------------------

--- Whether `job` is about the workspace rather than one region: a task, or a job awaiting
--- review over the files it named (an action run by an ACP agent).
local function about_workspace(job)
  return job.action == 'task' or (job.review ~= nil and job.review.buffers ~= nil)
end

--- The most recent job about the workspace anywhere that matches `pred`: such a job can be
--- decided on or cancelled from a buffer it did not touch.
local function latest_task(pred)
  local found
  for _, job in pairs(jobs) do
    if about_workspace(job) and pred(job) and (not found or job.seq > found.seq) then
      found = job
    end
  end
  return found
end

local function pick(bufnr, id, pred)
  if id then
    for _, job in pairs(jobs) do
      if job.id == id and (job.bufnr == bufnr or (job.review and job.review.bufnr == bufnr)) then
        return job
      end
    end
    for _, job in pairs(jobs) do
      if job.id == id then
        return job
      end
    end
    return nil
  end
  return M.latest(bufnr, pred)
    or latest_task(pred)
    or M.latest(bufnr, function(j)
      return j.id ~= nil
    end)
end

--- Accepts or rejects a finished job (`verdict` is "accept" or "reject"): the one given by
--- `id`, else the buffer's most recent job awaiting review, else its most recent job. A
--- rejection's `reason` goes to the server, which learns from it.
function M.decide(bufnr, verdict, id, reason)
  local job = pick(bufnr, id, function(j)
    return j.review ~= nil
  end)
  local client = job and vim.lsp.get_client_by_id(job.client_id) or lsp.client_for(bufnr)
  if not client then
    ui.notify('Tandem is not attached to this buffer', vim.log.levels.ERROR)
    return
  end
  local job_id = id or (job and job.id)
  if not job_id then
    ui.notify('Tandem: no job to ' .. verdict .. ' in this buffer', vim.log.levels.WARN)
    return
  end
  local argument = { jobId = job_id, reason = verdict == 'reject' and reason or nil }
  lsp.execute(client, 'tandem.' .. verdict, argument, function(err)
    if err then
      local why = err.message or tostring(err)
      ui.notify(string.format('Tandem: %s failed: %s', verdict, why), vim.log.levels.ERROR)
      return
    end
    local done = verdict == 'accept' and 'accepted' or 'rejected'
    verdicts[key(client.id, job_id)] = done
    if job then
      end_review(job)
      job.decided = verdict
    end
    ui.notify(string.format('Tandem: job %s %s', job_id, done))
  end, bufnr)
end

--- "accepted" or "rejected" when this editor decided job `id` of client `client_id`, else nil.
function M.verdict(client_id, id)
  return verdicts[key(client_id, id)]
end

--- Cancels the job given by `id`, else the buffer's most recent running job.
function M.cancel(bufnr, id)
  local job = pick(bufnr, id, function(j)
    return j.status == 'running' and j.id ~= nil
  end)
  local client = job and vim.lsp.get_client_by_id(job.client_id) or lsp.client_for(bufnr)
  local job_id = id or (job and job.id)
  if not (client and job_id) then
    ui.notify('Tandem: no job to cancel in this buffer', vim.log.levels.WARN)
    return
  end
  lsp.execute(client, 'tandem.cancel', { jobId = job_id }, function(err)
    if err then
      ui.notify('Tandem: cancel failed: ' .. (err.message or tostring(err)), vim.log.levels.ERROR)
    end
  end, bufnr)
end

--- Forgets the jobs of a client that stopped, and their marks.
function M.forget_client(client_id)
  for k, job in pairs(jobs) do
    if job.client_id == client_id then
      ui.del_mark(job.bufnr, job.mark)
      end_review(job)
      jobs[k] = nil
    end
  end
  for k in pairs(verdicts) do
    if vim.startswith(k, client_id .. ':') then
      verdicts[k] = nil
    end
  end
  for i = #pending, 1, -1 do
    if pending[i].client_id == client_id then
      ui.del_mark(pending[i].bufnr, pending[i].mark)
      table.remove(pending, i)
    end
  end
end

return M
