-- With learn.minEvidence 1: `:Tandem reject {reason}` takes the finished edit back and tells the
-- server why; the rule the server then proposes is announced with vim.notify, and `:Tandem rules`
-- approves it (vim.ui.select twice): `.tandem/rules.md` holds it, written to disk. A second
-- edit rejected with another reason gives a second rule, which `:Tandem rules` edits: the
-- wording box is prefilled with the proposal, and the person's wording is what is written.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup({ settings = { learn = { minEvidence = 1 } } })

-- Kept in step with tests/tests/editor_neovim.rs.
local REASON = 'we keep the single variable x'
local RULE = 'Keep the variables the code already has.'
local SECOND_REASON = 'we never shadow a variable'
local SECOND_RULE = 'Do not shadow variables.'
local REWORDED = 'Never shadow a variable.'

H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  H.client(buf)
  local original = H.lines(buf)
  local rules_md = vim.fs.joinpath(vim.fn.getcwd(), '.tandem', 'rules.md')
  local said = {}
  local notify = vim.notify
  vim.notify = function(message, ...)
    table.insert(said, message)
    return notify(message, ...)
  end
  local function announced(rule)
    H.wait('the proposal of ' .. rule .. ' to be announced', function()
      for _, message in ipairs(said) do
        if message:find(rule, 1, true) and message:find(':Tandem rules', 1, true) then
          return true
        end
      end
      return false
    end)
  end
  --- Answers the next vim.ui.selects in order, each with the item whose shown text holds the
  --- next of `wanted`.
  local selects = {}
  local function answer_selects(wanted)
    local queue = vim.deepcopy(wanted)
    vim.ui.select = function(items, opts, on_choice)
      local shown = vim.tbl_map(opts.format_item or tostring, items)
      table.insert(selects, { prompt = opts.prompt, shown = shown })
      local want = table.remove(queue, 1)
      for i, text in ipairs(shown) do
        if want and text:find(want, 1, true) then
          return on_choice(items[i], i)
        end
      end
      H.fail('no ' .. tostring(want) .. ' among ' .. vim.inspect(shown))
    end
  end
  local function rules_file()
    local file = io.open(rules_md, 'r')
    if not file then
      return ''
    end
    local text = file:read('*a')
    file:close()
    return text
  end
  local function edit_and_reject(n, reason)
    vim.cmd('2Tandem edit use two variables')
    local done = H.wait_finished(n)
    H.check(done.status == 'done', 'job ended ' .. vim.inspect(done))
    local edited = { 'fn main() {', '    let a = 1;', '    let b = 2;', '    println!("{x}");', '}' }
    H.expect_lines(buf, edited, 'the edited buffer')
    vim.cmd('Tandem reject ' .. reason)
    H.wait('the original text to come back', function()
      return vim.deep_equal(H.lines(buf), original)
    end)
  end

  -- The first rule, approved as proposed.
  edit_and_reject(1, REASON)
  announced(RULE)
  answer_selects({ RULE, 'Approve' })
  vim.cmd('Tandem rules')
  H.wait('the rule in .tandem/rules.md on disk', function()
    return rules_file():find('- ' .. RULE, 1, true) ~= nil
  end)
  H.check(
    selects[1].shown[1]:find('1 correction', 1, true),
    'the proposal shows its evidence: ' .. vim.inspect(selects[1].shown)
  )
  local rules_buf = vim.fn.bufnr(rules_md)
  H.check(rules_buf < 0 or not vim.bo[rules_buf].modified, 'rules.md was left unsaved')

  -- The second rule, in the person's words.
  edit_and_reject(2, SECOND_REASON)
  announced(SECOND_RULE)
  local default
  vim.ui.input = function(opts, on_confirm)
    default = opts.default
    on_confirm(REWORDED)
  end
  answer_selects({ SECOND_RULE, 'Edit' })
  vim.cmd('Tandem rules')
  H.wait('the reworded rule in .tandem/rules.md on disk', function()
    return rules_file():find('- ' .. REWORDED, 1, true) ~= nil
  end)
  H.check(default == SECOND_RULE, 'the wording box was prefilled with ' .. tostring(default))
  local text = rules_file()
  H.check(text:find('- ' .. RULE, 1, true), 'the first rule is gone:\n' .. text)
  H.check(not text:find(SECOND_RULE, 1, true), 'the proposal replaced the wording:\n' .. text)
  vim.notify = notify
end)
