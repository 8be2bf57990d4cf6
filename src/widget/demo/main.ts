/**
 * Herald's demo page: /widget/demo?projectId=…&userId=…&userHash=… (or ?token=…).
 * It only copies the credentials from the address onto <herald-inbox>; everything else is the
 * component (/widget/herald-inbox.js). A real application renders the element with the
 * credentials its backend made for the signed-in user.
 */
const query = new URLSearchParams(location.search);
const inbox = document.getElementById('inbox');
if (inbox) {
  for (const [param, attribute] of [
    ['projectId', 'project-id'],
    ['userId', 'user-id'],
    ['userHash', 'user-hash'],
    ['token', 'token'],
    ['theme', 'theme'],
    ['locale', 'locale'],
    ['pageSize', 'page-size'],
  ] as const) {
    const value = query.get(param);
    if (value) inbox.setAttribute(attribute, value);
  }
  if (query.get('deletable') !== null) inbox.setAttribute('deletable', '');
  const theme = query.get('theme');
  if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme;
}
