package org.ctrlab.server.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;

class CsvTest {
  @Test
  void fieldsAreQuotedWhenTheyMustBeAndFormulasAreDefused() {
    assertEquals("plain", Csv.field("plain"));
    assertEquals("\"a,b\"", Csv.field("a,b"));
    assertEquals("\"say \"\"hi\"\"\"", Csv.field("say \"hi\""));
    assertEquals("\"two\nlines\"", Csv.field("two\nlines"));
    assertEquals("'=HYPERLINK(1)", Csv.field("=HYPERLINK(1)"), "a spreadsheet must not run a name as a formula");
    assertEquals("-0.25", Csv.field("-0.25"), "a negative number stays a number");
    assertEquals("-1.5e-05", Csv.field("-1.5e-05"));
    assertEquals("'-1+2", Csv.field("-1+2"), "digits and signs that are not a number are a formula");
    assertEquals("'+1+1", Csv.field("+1+1"));
    assertEquals("'\tcmd", Csv.field("\tcmd"));
  }

  @Test
  void queryStringsAreDecodedAndBounded() {
    assertEquals(Map.of("q", "seed 3", "head", "RATING", "flag", ""), WebApi.query("q=seed%203&head=RATING&flag"));
    assertEquals(Map.of(), WebApi.query(null));
    assertThrows(IllegalArgumentException.class, () -> WebApi.query("a=1&".repeat(40)));
  }

  @Test
  void theHostHeaderIsReadWithoutItsPort() {
    assertEquals("localhost", WebApi.hostOf("LocalHost:8080"));
    assertEquals("127.0.0.1", WebApi.hostOf("127.0.0.1"));
    assertEquals("[::1]", WebApi.hostOf("[::1]:8080"));
    assertEquals("evil.example", WebApi.hostOf("evil.example:8080"));
    assertEquals("", WebApi.hostOf(null));
  }
}
