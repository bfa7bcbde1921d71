package org.ctrlab.server.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.ctrlab.api.v1.CtrlabGrpc;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.StudyRequest;
import org.ctrlab.server.auth.Auth;
import org.ctrlab.server.auth.TokenFile;
import org.ctrlab.server.service.Fixture;
import org.ctrlab.server.service.Visibility;
import org.ctrlab.server.store.RunStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard against a real server with real runs: its JSON API over HTTP (tokens, visibility, read-only, bounds)
 * and its page in a real browser (Debian's chromium driven through its chromedriver by Selenium; nothing is
 * downloaded). alice has a study of 2 seeds x 2 heads and one long run that trains while the browser watches; bob,
 * on this {@code --visibility own} server, sees none of it.
 */
class DashboardTest {
  @TempDir
  static Path tmp;

  static Fixture f;
  static String alice;
  static String bob;
  static String studyId;
  static String longRun;
  static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  static void aStudyAndALongRun() throws Exception {
    Path tokens = tmp.resolve("tokens.txt");
    alice = TokenFile.add(tokens, "alice", false);
    bob = TokenFile.add(tokens, "bob", false);
    f = new Fixture(tmp, tokens, Map.of(), o -> o.httpPort(0).visibility(Visibility.OWN));
    var a = as(f.stub, alice);
    studyId = a.startStudy(StudyRequest.newBuilder().setName("heads x seeds").setDataset("synthetic")
        .addBackbones("DCNV2").addHeads(Head.BINARY).addHeads(Head.RATING).addSeeds(1).addSeeds(2)
        .setBase(Fixture.quick()).build()).getStudyId();
    // Long enough to be watched: many small epochs, no early stop.
    longRun = a.train(Fixture.quick().setMaxEpochs(200).setPatience(200).setName("long").addTags("live").build())
        .getRunId();
  }

  @AfterAll
  static void stop() throws Exception {
    if (f != null) {
      f.close();
    }
  }

  static CtrlabGrpc.CtrlabBlockingStub as(CtrlabGrpc.CtrlabBlockingStub stub, String token) {
    Metadata m = new Metadata();
    m.put(Auth.AUTHORIZATION, "Bearer " + token);
    return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
  }

  static String base() {
    return "http://127.0.0.1:" + f.server.httpPort();
  }

  static HttpResponse<String> get(String path, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(20));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static JsonObject json(String path, String token) throws Exception {
    HttpResponse<String> r = get(path, token);
    assertEquals(200, r.statusCode(), path + ": " + r.body());
    return JsonParser.parseString(r.body()).getAsJsonObject();
  }

  /** Waits until every run of the study is SUCCEEDED (the page's grouped rows need finished seeds). */
  static void awaitStudy() throws Exception {
    var a = as(f.stub, alice);
    long deadline = System.currentTimeMillis() + 180_000;
    for (String id : a.getStudy(org.ctrlab.api.v1.GetStudyRequest.newBuilder().setStudyId(studyId).build())
        .getRunIdsList()) {
      while (a.getRun(GetRunRequest.newBuilder().setRunId(id).build()).getState() != RunState.SUCCEEDED) {
        assertTrue(System.currentTimeMillis() < deadline, "the study's runs did not finish in 180 s");
        Thread.sleep(100);
      }
    }
  }

  @Test
  void theApiNeedsATokenShowsEachUserTheirOwnAndChangesNothing() throws Exception {
    for (String path : List.of("/api/me", "/api/runs", "/api/box", "/api/studies", "/api/runs/" + longRun)) {
      HttpResponse<String> none = get(path, null);
      assertEquals(401, none.statusCode(), path);
      assertFalse(none.body().contains(longRun), "a request without a token gets nothing: " + none.body());
      assertEquals(401, get(path, "not-a-token").statusCode(), path);
    }
    JsonObject me = json("/api/me", bob);
    assertEquals("bob", me.get("user").getAsString());
    assertEquals("own", me.get("visibility").getAsString());
    // bob sees none of alice's runs, studies or queue entries, and is not told whose they are.
    assertEquals(0, json("/api/runs", bob).get("total").getAsInt());
    assertEquals(0, json("/api/studies", bob).getAsJsonArray("studies").size());
    HttpResponse<String> hers = get("/api/runs/" + longRun, bob);
    assertEquals(403, hers.statusCode(), hers.body());
    assertFalse(hers.body().contains("alice"), hers.body());
    assertEquals(403, get("/api/studies/" + studyId, bob).statusCode());
    assertEquals(403, get("/api/runs?owner=alice", bob).statusCode());
    JsonObject box = json("/api/box", bob);
    assertEquals(0, box.getAsJsonArray("running").size() + box.getAsJsonArray("queue").size());
    assertTrue(box.get("hidden_running").getAsInt() + box.get("hidden_queued").getAsInt() >= 1, box.toString());
    // alice sees hers; the filters and the bounds hold.
    JsonObject all = json("/api/runs", alice);
    assertEquals(5, all.get("total").getAsInt(), all.toString());
    JsonObject rating = json("/api/runs?head=RATING&sort=seed&order=asc", alice);
    assertEquals(2, rating.get("total").getAsInt());
    rating.getAsJsonArray("rows").forEach(r -> assertEquals("RATING", r.getAsJsonObject().get("head")
        .getAsString()));
    assertEquals(1, rating.getAsJsonArray("rows").get(0).getAsJsonObject().get("seed").getAsInt());
    assertEquals("RATING", rating.getAsJsonObject("shared").get("head").getAsString(), "a shared column is named");
    assertEquals(4, json("/api/runs?study=" + studyId, alice).get("total").getAsInt());
    assertEquals(1, json("/api/runs?q=LIVE", alice).get("total").getAsInt(), "free text finds the tag");
    HttpResponse<String> csv = get("/api/runs?format=csv&tag=live", alice);
    assertTrue(csv.headers().firstValue("Content-Type").orElse("").startsWith("text/csv"));
    assertEquals(2, csv.body().lines().count(), csv.body());
    assertTrue(csv.body().startsWith("run_id,owner,name,tags,study,"));
    assertEquals(400, get("/api/runs?sort=nope", alice).statusCode());
    assertEquals(400, get("/api/runs?limit=-1", alice).statusCode());
    assertEquals(400, get("/api/runs/short", alice).statusCode());
    assertEquals(404, get("/api/runs/0123456789ab", alice).statusCode());
    assertEquals(5, json("/api/runs?limit=2147483647", alice).getAsJsonArray("rows").size(), "a huge limit is bounded");
    // Read-only: no method but GET and HEAD.
    for (String method : List.of("POST", "PUT", "DELETE", "PATCH")) {
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base() + "/api/runs/" + longRun))
          .header("Authorization", "Bearer " + alice).method(method, HttpRequest.BodyPublishers.ofString("{}"))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(405, r.statusCode(), method);
    }
    // The page and its scripts are served from the jar, without a token (they hold no data).
    HttpResponse<String> page = get("/", null);
    assertEquals(200, page.statusCode());
    assertTrue(page.body().contains("/static/uplot/uPlot.iife.min.js"));
    assertTrue(page.headers().firstValue("Content-Security-Policy").orElse("").contains("default-src 'self'"));
    assertEquals(200, get("/static/uplot/LICENSE", null).statusCode());
  }

  /** A raw HTTP/1.1 GET with the given Host header (Java's client will not send a Host of one's choosing). */
  static String rawGet(int port, String host, String path) throws Exception {
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
      s.setSoTimeout(20_000);
      s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      return new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  @Test
  void withoutTokensOnlyRequestsNamingThisServerAreAnswered() throws Exception {
    // A web page elsewhere may point a name of its own at 127.0.0.1 (DNS rebinding): its requests carry that name.
    try (Fixture open = new Fixture(tmp.resolve("open"), null, Map.of(), o -> o.httpPort(0))) {
      int port = open.server.httpPort();
      String evil = rawGet(port, "evil.example:" + port, "/api/runs");
      assertTrue(evil.startsWith("HTTP/1.1 403"), evil);
      assertFalse(evil.contains("run_id"), evil);
      assertTrue(rawGet(port, "localhost:" + port, "/api/me").startsWith("HTTP/1.1 200"));
      assertTrue(rawGet(port, "127.0.0.1:" + port, "/api/runs").startsWith("HTTP/1.1 200"));
      // A half-sent request does not hold the page: the next one is answered at once.
      try (java.net.Socket stalled = new java.net.Socket("127.0.0.1", port)) {
        stalled.getOutputStream().write("GET /api/me HTTP/1.1\r\nHo".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        for (int i = 0; i < 6; i++) {
          assertTrue(rawGet(port, "localhost", "/api/me").startsWith("HTTP/1.1 200"));
        }
      }
    }
  }

  @Test
  void thePageInARealBrowser() throws Exception {
    awaitStudy();
    WebDriver web = browser();
    Path shots = Path.of("target", "dashboard-screenshots");
    Files.createDirectories(shots);
    try {
      WebDriverWait wait = new WebDriverWait(web, Duration.ofSeconds(30));
      web.get(base() + "/#/runs");
      // Signed out: the page asks for a token, and shows nothing else.
      signIn(wait, alice);
      wait.until(d -> d.findElements(By.cssSelector("#runs tbody tr")).size() == 5);
      shot(web, shots, "runs");

      // Filter: the RATING runs only.
      new Select(web.findElement(By.name("head"))).selectByValue("RATING");
      web.findElement(By.id("apply")).click();
      wait.until(d -> d.findElements(By.cssSelector("#runs tbody tr")).size() == 2);
      assertTrue(web.findElement(By.id("shared")).getText().contains("head = RATING"),
          "a column all shown runs share is hidden and named");

      // The long run, live: its curve gains points while the page stays (no reload: a marker survives).
      web.get(base() + "/#/run/" + longRun);
      By auc = By.cssSelector("[data-chart='Validation AUC']");
      wait.until(d -> points(d, auc) >= 1);
      ((org.openqa.selenium.JavascriptExecutor) web).executeScript("window.__stay = 42;");
      int before = points(web, auc);
      new WebDriverWait(web, Duration.ofSeconds(60)).until(d -> points(d, auc) >= before + 2);
      assertEquals(42L, ((org.openqa.selenium.JavascriptExecutor) web).executeScript("return window.__stay;"),
          "the points came without a reload");
      assertTrue(web.findElements(By.cssSelector("[data-key='cluster job']")).isEmpty(), "a local run has none");
      shot(web, shots, "run");

      // A study: its rows grouped over seeds, the paired difference, its curves.
      web.get(base() + "/#/study/" + studyId);
      wait.until(d -> d.findElements(By.cssSelector("#study-rows tbody tr")).size() == 2);
      List<WebElement> rows = web.findElements(By.cssSelector("#study-rows tbody tr"));
      assertTrue(rows.get(0).getText().contains("DCNV2"));
      assertTrue(rows.stream().allMatch(r -> r.getText().contains(" ± ")), "mean ± std per row");
      assertEquals(1, web.findElements(By.cssSelector("#study-comparisons tbody tr")).size());
      assertTrue(points(web, By.cssSelector("#study-curves .chart")) >= 2);
      shot(web, shots, "study");

      // Compare two of the study's runs.
      JsonObject two = json("/api/runs?study=" + studyId + "&sort=seed&order=asc&limit=2", alice);
      String ids = two.getAsJsonArray("rows").get(0).getAsJsonObject().get("run_id").getAsString() + ","
          + two.getAsJsonArray("rows").get(1).getAsJsonObject().get("run_id").getAsString();
      web.get(base() + "/#/compare/" + ids);
      wait.until(d -> d.findElements(By.cssSelector("#differing tbody tr")).size() >= 1);
      assertTrue(web.findElement(By.id("differing")).getText().contains("head"), "the heads differ");
      assertFalse(web.findElement(By.id("differing")).getText().contains("backbone"), "the backbone does not");
      shot(web, shots, "compare");

      // A run of a cluster's job (as a Slurm server records it) shows the job and its time in the cluster's queue.
      String first = ids.split(",")[0];
      try (RunStore store = RunStore.attach(tmp.resolve("runs").resolve("ctrlab.db"))) {
        store.update(first, r -> r.toBuilder().setJobId("4242").setQueuedSeconds(754).build());
      }
      web.get(base() + "/#/run/" + first);
      wait.until(d -> !d.findElements(By.cssSelector("[data-key='cluster job']")).isEmpty());
      assertEquals("4242", web.findElement(By.cssSelector("[data-key='cluster job']")).getText());
      assertEquals("12.6 min, not counted against its limit",
          web.findElement(By.cssSelector("[data-key=\"in the cluster's queue\"]")).getText());

      web.get(base() + "/#/box");
      wait.until(d -> !d.findElements(By.cssSelector("#running tbody tr")).isEmpty());
      shot(web, shots, "box");

      // bob, signed in on the same page, sees none of alice's runs.
      web.findElement(By.xpath("//button[text()='Sign out']")).click();
      signIn(wait, bob);
      wait.until(d -> d.findElement(By.id("total")).getText().equals("no runs"));
      assertTrue(web.findElements(By.cssSelector("#runs tbody tr")).isEmpty());
    } finally {
      web.quit();
    }
  }

  /** Types a token into the sign-in form once it is there (and stays: a form drawn again is typed into again). */
  static void signIn(WebDriverWait wait, String token) {
    wait.ignoring(org.openqa.selenium.StaleElementReferenceException.class).until(d -> {
      WebElement t = d.findElement(By.id("token"));
      t.clear();
      t.sendKeys(token);
      d.findElement(By.id("signin")).click();
      return true;
    });
  }

  static int points(WebDriver d, By chart) {
    String v = d.findElement(chart).getAttribute("data-points");
    return v == null ? 0 : Integer.parseInt(v);
  }

  static void shot(WebDriver web, Path dir, String name) throws Exception {
    Files.write(dir.resolve(name + ".png"), ((TakesScreenshot) web).getScreenshotAs(OutputType.BYTES));
  }

  /** Debian's chromium, headless, through Debian's chromedriver: Selenium downloads nothing. */
  static WebDriver browser() {
    Path chromium = Path.of("/usr/bin/chromium");
    Path driver = Path.of("/usr/bin/chromedriver");
    boolean there = Files.isExecutable(chromium) && Files.isExecutable(driver);
    String ci = System.getenv("CI");
    if (!there && ci != null && !ci.isEmpty() && !ci.equalsIgnoreCase("false")) {
      throw new AssertionError("CI=" + ci + " and chromium or chromedriver is missing (scripts/install-test-deps.sh"
          + " installs them); CI does not skip");
    }
    org.junit.jupiter.api.Assumptions.assumeTrue(there, "SKIPPED: no /usr/bin/chromium or /usr/bin/chromedriver"
        + " (apt-get install chromium chromium-driver, as scripts/install-test-deps.sh does)");
    ChromeOptions o = new ChromeOptions();
    o.setBinary(chromium.toFile());
    o.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--window-size=1400,900", "--hide-scrollbars");
    ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(driver.toFile())
        .usingAnyFreePort().build();
    return new ChromeDriver(service, o);
  }
}
