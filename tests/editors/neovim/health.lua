-- :checkhealth tandem finds the binary and its version, and reports the scripted endpoint as
-- reachable through `tandem doctor`.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup()
H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  H.client(buf)
  vim.cmd('checkhealth tandem')
  local report
  H.wait('the health report', function()
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.bo[b].filetype == 'checkhealth' then
        report = H.lines(b)
        return table.concat(report, '\n'):find('running servers', 1, true) ~= nil
      end
    end
    return false
  end)
  local text = table.concat(report, '\n')
  H.log(text)
  local function has(pattern, what)
    for _, line in ipairs(report) do
      if line:find(pattern) then
        return
      end
    end
    error('the report has no ' .. what .. ' line:\n' .. text)
  end
  has('OK.*is executable', 'executable')
  has('OK.*version: tandem', 'version')
  -- doctor checked the plugin's own settings, not only the files.
  local url = vim.pesc(H.env('TANDEM_MODEL_URL'))
  has('model%.baseUrl = "' .. url .. '"  %(initializationOptions%)', 'settings')
  has('OK.*the model endpoint ' .. url .. '.*is reachable', 'endpoint OK')
  H.check(not text:find('ERROR', 1, true), 'the report has errors')
  H.check(not text:find('WARNING', 1, true), 'the report has warnings')
end)
