--- The team's rules: a rule the server proposes (`tandem/ruleProposed`) is announced with
--- vim.notify, and `:Tandem rules` lists the proposed and approved rules to approve, edit or
--- reject. Approving has the server write the rule into `.tandem/rules.md`.
local lsp = require('tandem.lsp')
local ui = require('tandem.ui')

local M = {}

local function corrections(proposal)
  local n = type(proposal.evidence) == 'table' and #proposal.evidence or 0
  return n == 1 and '1 correction' or (n .. ' corrections')
end

local function quoted(rule)
  local scope = type(rule.scope) == 'string' and (' (for ' .. rule.scope .. ')') or ''
  return '"' .. rule.text .. '"' .. scope
end

--- `tandem/ruleProposed`.
function M.on_rule_proposed(_, params)
  if type(params) ~= 'table' or type(params.text) ~= 'string' then
    return
  end
  ui.notify(
    string.format(
      'Tandem proposes a rule: %s, from %s. Approve, edit or reject it with :Tandem rules',
      quoted(params),
      corrections(params)
    )
  )
end

--- The buffer of the workspace's `.tandem/rules.md`, when one is loaded.
local function rules_buffer(client)
  local root = client.root_dir or (client.config and client.config.root_dir)
  if type(root) ~= 'string' then
    return nil
  end
  local bufnr = vim.fn.bufnr(vim.fs.joinpath(root, '.tandem', 'rules.md'))
  if bufnr > 0 and vim.api.nvim_buf_is_loaded(bufnr) then
    return bufnr
  end
  return nil
end

--- How long an approved rule's edit may take to reach `.tandem/rules.md` after the answer.
local EDIT_WAIT_MS = 10000

--- Writes the `.tandem/rules.md` buffer once it holds `written`: the server's
--- `workspace/applyEdit` may land before or after its answer to `tandem.rules.approve`.
local function write_once_written(client, written)
  local deadline = vim.uv.now() + EDIT_WAIT_MS
  local function check()
    local bufnr = rules_buffer(client)
    if bufnr then
      local text = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n')
      if text:find(written, 1, true) then
        if vim.bo[bufnr].modified then
          vim.api.nvim_buf_call(bufnr, function()
            vim.cmd('silent write')
          end)
        end
        return
      end
    end
    if vim.uv.now() < deadline then
      vim.defer_fn(check, 50)
    else
      ui.notify('Tandem: the rule did not reach .tandem/rules.md', vim.log.levels.WARN)
    end
  end
  check()
end

--- Has the server write the rule (or the person's `text`) into `.tandem/rules.md`, then writes
--- that buffer, unless it held unsaved changes of the user's before (those are theirs to write).
local function approve(client, proposal, text)
  local before = rules_buffer(client)
  local modified_before = before ~= nil and vim.bo[before].modified
  local argument = { id = proposal.id, text = text }
  lsp.execute(client, 'tandem.rules.approve', argument, function(err, result)
    if err then
      local why = err.message or tostring(err)
      ui.notify('Tandem: approving the rule failed: ' .. why, vim.log.levels.ERROR)
      return
    end
    local written = type(result) == 'table' and result.text or text or proposal.text
    if not modified_before then
      write_once_written(client, written)
    end
    ui.notify('Tandem: added to .tandem/rules.md: "' .. written .. '"')
  end)
end

--- Asks for the rule's wording, prefilled; empty or cancelled: nothing happens.
local function edit(client, proposal)
  vim.ui.input({ prompt = 'Tandem rule: ', default = proposal.text }, function(input)
    local text = input and vim.trim(input) or ''
    if text == '' then
      return
    end
    approve(client, proposal, text ~= proposal.text and text or nil)
  end)
end

local function reject(client, proposal)
  lsp.execute(client, 'tandem.rules.reject', { id = proposal.id }, function(err)
    if err then
      local why = err.message or tostring(err)
      ui.notify('Tandem: rejecting the rule failed: ' .. why, vim.log.levels.ERROR)
      return
    end
    ui.notify('Tandem: rule rejected: ' .. quoted(proposal))
  end)
end

local CHOICES = {
  { name = 'approve', label = 'Approve: add it to .tandem/rules.md', run = approve },
  { name = 'edit', label = 'Edit: reword it, then add it', run = edit },
  { name = 'reject', label = 'Reject: never propose it again', run = reject },
}

--- Offers approve / edit / reject for one proposal.
local function decide(client, proposal)
  vim.ui.select(CHOICES, {
    prompt = 'Tandem rule ' .. quoted(proposal) .. ':',
    format_item = function(choice)
      return choice.label
    end,
  }, function(choice)
    if choice then
      choice.run(client, proposal)
    end
  end)
end

--- `:Tandem rules`: the proposed rules (picking one offers approve / edit / reject) and the
--- approved ones (picking one opens `.tandem/rules.md`).
function M.list(client)
  lsp.execute(client, 'tandem.rules', vim.empty_dict(), function(err, result)
    if err or type(result) ~= 'table' then
      local why = err and (err.message or tostring(err)) or 'no answer'
      ui.notify('Tandem: listing the rules failed: ' .. why, vim.log.levels.ERROR)
      return
    end
    local items = {}
    for _, proposal in ipairs(result.proposed or {}) do
      table.insert(items, { proposal = proposal })
    end
    for _, rule in ipairs(result.approved or {}) do
      table.insert(items, { approved = rule })
    end
    if #items == 0 then
      ui.notify('Tandem: no rules yet. :Tandem rules propose asks for one now')
      return
    end
    vim.ui.select(items, {
      prompt = 'Tandem rules:',
      format_item = function(item)
        if item.proposal then
          return string.format('proposed: %s, from %s', quoted(item.proposal), corrections(item.proposal))
        end
        return 'approved: ' .. quoted(item.approved)
      end,
    }, function(item)
      if not item then
        return
      end
      if item.proposal then
        decide(client, item.proposal)
        return
      end
      local root = client.root_dir or (client.config and client.config.root_dir)
      if type(root) == 'string' then
        vim.cmd.edit(vim.fn.fnameescape(vim.fs.joinpath(root, '.tandem', 'rules.md')))
      end
    end)
  end)
end

--- `:Tandem rules propose`: asks the model for a rule from the corrections so far.
function M.propose(client)
  lsp.execute(client, 'tandem.rules.propose', vim.empty_dict(), function(err, result)
    if err then
      local why = err.message or tostring(err)
      ui.notify('Tandem: proposing a rule failed: ' .. why, vim.log.levels.ERROR)
      return
    end
    if type(result) ~= 'table' then
      ui.notify('Tandem: no rule to propose from the corrections so far')
      return
    end
    decide(client, result)
  end)
end

--- `:Tandem rules forget`: deletes what Tandem learned on this machine, after asking.
function M.forget(client)
  local question = 'Delete what Tandem recorded of your corrections in this workspace?'
  if vim.fn.confirm(question, '&Delete\n&Keep', 2, 'Question') ~= 1 then
    return
  end
  lsp.execute(client, 'tandem.rules.forget', vim.empty_dict(), function(err)
    if err then
      local why = err.message or tostring(err)
      ui.notify('Tandem: forgetting failed: ' .. why, vim.log.levels.ERROR)
      return
    end
    ui.notify('Tandem: the local learning store is deleted; .tandem/rules.md stays as it is')
  end)
end

return M
