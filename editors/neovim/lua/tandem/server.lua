--- Which `tandem` binary the plugin starts: the `cmd` setting when there is one, else `tandem`
--- on $PATH, else the one built in the repository checkout that holds the plugin
--- (`<checkout>/target/release/tandem`, what the lazy.nvim `build` step makes).
local M = {}

--- The command that builds the server, run anywhere inside the checkout (the lazy.nvim
--- `build` step).
M.BUILD = 'cargo build --release -p tandem'

--- The repository checkout holding this plugin: `<checkout>/editors/neovim/lua/tandem/server.lua`.
function M.checkout()
  local source = debug.getinfo(1, 'S').source:sub(2)
  local file = vim.fn.fnamemodify(source, ':p')
  return vim.fn.fnamemodify(file, ':h:h:h:h:h')
end

--- The binary the build step makes in the checkout.
function M.built()
  return M.checkout() .. '/target/release/tandem'
end

--- Whether the checkout holds the server's sources (so that the build step can work there).
function M.has_sources()
  return vim.fn.filereadable(M.checkout() .. '/server/Cargo.toml') == 1
end

--- The command to start the server and where it comes from: 'setting', 'PATH', 'checkout',
--- or nil when there is none (then the command is `{ 'tandem' }`, which fails to start).
--- @param cmd string[]|nil the `cmd` setting
--- @return string[] cmd, string|nil from
function M.resolve(cmd)
  if cmd ~= nil then
    return cmd, 'setting'
  end
  if vim.fn.executable('tandem') == 1 then
    return { 'tandem' }, 'PATH'
  end
  if vim.fn.executable(M.built()) == 1 then
    return { M.built() }, 'checkout'
  end
  return { 'tandem' }, nil
end

return M
