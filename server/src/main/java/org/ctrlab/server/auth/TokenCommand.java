package org.ctrlab.server.auth;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Parameters;

/** {@code ctrlab-server token add|list|revoke}: the token file, kept by the operator. */
@Command(name = "token", mixinStandardHelpOptions = true,
    description = "Manage the server's token file (only hashes are stored; a running server picks changes up).",
    subcommands = {TokenCommand.Add.class, TokenCommand.ListUsers.class, TokenCommand.Revoke.class},
    footer = {"", "Examples:", "  ctrlab-server token add alice --file tokens.txt",
        "  ctrlab-server token add ops --admin --file tokens.txt", "  ctrlab-server token revoke alice --file tokens.txt"})
public final class TokenCommand implements Callable<Integer> {
  @Option(names = "--file", description = "The token file (default: ${DEFAULT-VALUE}).",
      scope = picocli.CommandLine.ScopeType.INHERIT)
  Path file = Path.of("tokens.txt");

  @Override
  public Integer call() {
    System.err.println("give add, list or revoke (ctrlab-server token --help)");
    return 2;
  }

  @Command(name = "add", mixinStandardHelpOptions = true,
      description = "Add a user with a new random token and print the token (once: only its hash is kept).")
  static final class Add implements Callable<Integer> {
    @ParentCommand
    TokenCommand parent;

    @Parameters(paramLabel = "USER")
    String user;

    @Option(names = "--admin", description = "The user may cancel and delete anyone's runs and read every run.")
    boolean admin;

    @Override
    public Integer call() throws Exception {
      String token = TokenFile.add(parent.file, user, admin);
      System.out.println(token);
      System.err.println("added " + user + (admin ? " (admin)" : "") + " to " + parent.file
          + "; give them the token above, it is not shown again");
      return 0;
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "The users of the token file.")
  static final class ListUsers implements Callable<Integer> {
    @ParentCommand
    TokenCommand parent;

    @Override
    public Integer call() throws Exception {
      TokenFile.Contents c = TokenFile.read(parent.file, true);
      for (TokenFile.Entry e : c.entries()) {
        System.out.println(e.user() + (e.admin() ? "  admin" : ""));
      }
      c.warnings().forEach(w -> System.err.println("warning: " + w));
      return 0;
    }
  }

  @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Remove a user's token.")
  static final class Revoke implements Callable<Integer> {
    @ParentCommand
    TokenCommand parent;

    @Parameters(paramLabel = "USER")
    String user;

    @Override
    public Integer call() throws Exception {
      if (!TokenFile.revoke(parent.file, user)) {
        System.err.println("no user " + user + " in " + parent.file);
        return 1;
      }
      System.err.println("revoked " + user + "'s token");
      return 0;
    }
  }
}
