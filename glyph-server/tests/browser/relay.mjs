// Drives headless Chromium through the share relay's pages, one step per
// run, printing one JSON object; glyph-server/tests/browser.rs calls it and
// makes the assertions. Steps:
//   create BASE TEXT VIEWS   make a share on BASE/share; prints {link, note,
//                            form_hidden, another (the form after "Make another")}
//   reveal LINK              open LINK in a fresh context, click Reveal,
//                            read the secret, reload; prints {secret, copy,
//                            after_reload}
//   visit URL                load URL; prints {text, has_reveal}
//   nokey URL                open a link without its #key=; prints {error, disabled}
// Any console message about the Content-Security-Policy, any page error and
// any request answered 400 or more (a missing icon, say) fails the step.
import { chromium } from "playwright-core";

const executablePath = process.env.GLYPH_CHROMIUM || "/usr/bin/chromium";
const [step, ...args] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
});
const problems = [];
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on("console", (msg) => {
    if (/Content.Security.Policy|Refused to/i.test(msg.text())) problems.push(msg.text());
  });
  page.on("pageerror", (err) => problems.push(String(err)));
  page.on("response", (response) => {
    // (A gone share's page is a 404 on purpose; an open of a spent share too.)
    const expected = response.request().resourceType() === "document" || /\/v1\/shares\/[^/]+\/open$/.test(response.url());
    if (response.status() >= 400 && !expected) {
      problems.push(response.status() + " " + response.url());
    }
  });
  let result;
  if (step === "create") {
    const [base, text, views] = args;
    await page.goto(base + "/share");
    await page.fill("#plaintext", text);
    await page.selectOption("#views", views);
    await page.selectOption("#ttl", "3600");
    await page.click("#create");
    await page.waitForSelector("#result:not([hidden])");
    result = {
      link: await page.inputValue("#link"),
      note: await page.textContent("#result-note"),
      form_hidden: await page.isHidden("#share-form"),
    };
    await page.click("#another");
    result.another = { form_visible: await page.isVisible("#share-form"), result_hidden: await page.isHidden("#result") };
  } else if (step === "reveal") {
    const [link] = args;
    await page.goto(link);
    await page.click("#reveal");
    await page.waitForSelector("#secret:not([hidden]), #error:not([hidden])");
    const secret = (await page.isVisible("#secret")) ? await page.textContent("#secret") : null;
    const copy = await page.isVisible("#copy-secret");
    const error = (await page.isVisible("#error")) ? await page.textContent("#error") : null;
    const address = page.url();
    await page.reload();
    await page.waitForTimeout(300);
    result = { secret, error, copy, address, after_reload: await page.textContent("main") };
  } else if (step === "visit") {
    const [url] = args;
    await page.goto(url);
    result = { text: await page.textContent("main"), has_reveal: (await page.$("#reveal")) !== null };
  } else if (step === "nokey") {
    const [url] = args;
    await page.goto(url);
    await page.waitForSelector("#error:not([hidden])");
    result = { error: await page.textContent("#error"), disabled: await page.isDisabled("#reveal") };
  } else {
    throw new Error("unknown step " + step);
  }
  result.problems = problems;
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
