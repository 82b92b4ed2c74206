// A verb's flags generated from its typed config: one declaration per setting (name, help, the field it sets), merged over a base config.
using System.CommandLine;
using System.CommandLine.Parsing;

namespace Ascan.Cli.Flags;

/// <summary>
/// A flag's name, visible aliases, help text, and hidden deprecated names that still parse (old scripts keep working).
/// Concepts several verbs share are declared once, in <see cref="SharedFlags"/>.
/// </summary>
internal sealed record FlagName(string Name, string Help, string[]? Aliases = null, string[]? Deprecated = null)
{
    /// <summary>The same flag with a verb's own help text (what the value means there).</summary>
    public FlagName WithHelp(string help) => this with { Help = help };
}

/// <summary>
/// Flags of one verb, each declared once: its <see cref="FlagName"/>, the config field it reads (for the default shown
/// in --help) and the one it sets. <see cref="AddTo"/> creates the System.CommandLine options; <see cref="Bind"/> lays
/// the flags that were given over a base config (the defaults, a --config file, a checkpoint's config): a flag that is
/// absent leaves the base's value, so precedence is base → flags.
/// </summary>
internal sealed class ConfigBinder<T>(T defaults) where T : class
{
    private readonly List<Setting> _settings = [];

    /// <summary>The config every default shown in --help is read from.</summary>
    public T Defaults { get; } = defaults;

    /// <summary>
    /// Declares a flag of type <typeparamref name="V"/>. <paramref name="get"/> reads the field (its value in
    /// <see cref="Defaults"/> is shown as the default unless null); <paramref name="set"/> returns the config with the
    /// field set. <paramref name="key"/> is the setting's name in the config's own errors (snake_case; default: the
    /// flag's name without dashes); <paramref name="check"/> returns the problem with a value (e.g. "must be at least 1"),
    /// or null when it is fine; <paramref name="configure"/> adjusts the option (arity, several values per token).
    /// </summary>
    public ConfigBinder<T> Add<V>(FlagName flag, Func<T, V> get, Func<T, V, T> set, bool required = false, string? key = null,
        Func<V, string?>? check = null, Action<Option<V>>? configure = null)
    {
        if (_settings.Any(s => s.Flag.Name == flag.Name)) throw new InvalidOperationException($"{flag.Name} is declared twice.");
        _settings.Add(new Setting<V>(flag, get(Defaults), set, required, key ?? flag.Name.TrimStart('-').Replace('-', '_'), check, configure));
        return this;
    }

    /// <summary>Declares what <paramref name="add"/> declares only when <paramref name="when"/> (flags one variant of a verb has).</summary>
    public ConfigBinder<T> AddIf(bool when, Func<ConfigBinder<T>, ConfigBinder<T>> add) => when ? add(this) : this;

    /// <summary>Creates the options (once per command) and adds them to <paramref name="command"/>.</summary>
    public Command AddTo(Command command)
    {
        foreach (var s in _settings)
        {
            foreach (var o in s.CreateOptions()) command.Options.Add(o);
            // A required flag with a deprecated name is satisfied by either, so it is checked here, not by the option.
            if (s.Required && s.Flag.Deprecated is { Length: > 0 })
                command.Validators.Add(cr => { if (!s.IsGiven(cr)) cr.AddError($"Option '{s.Flag.Name}' is required."); });
        }
        return command;
    }

    /// <summary>Every declared flag's name, in declaration order.</summary>
    public IEnumerable<string> Names => _settings.Select(s => s.Flag.Name);

    /// <summary>
    /// <paramref name="baseConfig"/> with every flag given in <paramref name="r"/> applied. A deprecated name is applied
    /// too, with a note on the invocation's error writer naming the current one.
    /// </summary>
    public T Bind(ParseResult r, T baseConfig)
    {
        var c = baseConfig;
        foreach (var s in _settings)
        {
            string? used = s.Apply(r, ref c);
            if (used != null && used != s.Flag.Name)
                r.InvocationConfiguration.Error.WriteLine($"{r.CommandResult.Command.Name}: {used} is deprecated; use {s.Flag.Name}.");
        }
        return c;
    }

    /// <summary>Whether a flag on the command line set the setting <paramref name="key"/> (snake_case config key).</summary>
    public bool IsGiven(string key, ParseResult r) => _settings.Any(s => s.Key == key && s.IsGiven(r));

    /// <summary>How to name setting <paramref name="key"/> in an error: its flag when the value came from a flag in <paramref name="r"/>, else the key.</summary>

    public string NameOf(string key, ParseResult r) =>
        _settings.FirstOrDefault(s => s.Key == key && s.IsGiven(r)) is { } s ? s.Flag.Name : key;

    private abstract class Setting(FlagName flag, string key, bool required)
    {
        public FlagName Flag { get; } = flag;
        public string Key { get; } = key;
        public bool Required { get; } = required;
        public abstract IEnumerable<Option> CreateOptions();
        /// <summary>Applies the flag when given; returns the name it was given under, or null.</summary>
        public abstract string? Apply(ParseResult r, ref T c);
        public abstract bool IsGiven(ParseResult r);
        public abstract bool IsGiven(CommandResult r);
    }

    private sealed class Setting<V>(FlagName flag, V defaultValue, Func<T, V, T> set, bool required, string key,
        Func<V, string?>? check, Action<Option<V>>? configure) : Setting(flag, key, required)
    {
        // The options of the last command built; the verb's command owns them, a binder serves the command it built.
        private List<Option<V>> _options = [];

        public override IEnumerable<Option> CreateOptions()
        {
            _options = [Create(Flag.Name, Flag.Aliases ?? [], hidden: false), .. (Flag.Deprecated ?? []).Select(d => Create(d, [], hidden: true))];
            return _options;
        }

        private Option<V> Create(string name, string[] aliases, bool hidden)
        {
            var o = new Option<V>(name, aliases) { Description = hidden ? $"Deprecated: use {Flag.Name}." : Flag.Help, Hidden = hidden };
            // The default is shown by --help ("[default: …]"); Bind ignores it (an implicit value), so a base config wins.
            // System.CommandLine does not print a bool's default, so the description carries it.
            if (!Required && defaultValue is bool b) o.Description += b ? " [default: true]" : " [default: false]";
            else if (!Required && defaultValue is { } d && !(d is string text && text.Length == 0)) o.DefaultValueFactory = _ => d;
            o.Required = Required && Flag.Deprecated is not { Length: > 0 };
            if (Required && !o.Required && !hidden) o.Description += " (REQUIRED)"; // checked by the command's validator, see AddTo
            if (check != null)
                o.Validators.Add(res =>
                {
                    if (res.Implicit) return;
                    V v;
                    try { v = res.GetValueOrDefault<V>(); }
                    catch (InvalidOperationException) { return; } // not a V at all: System.CommandLine reports that, naming the flag
                    if (check(v) is { } problem) res.AddError($"{Flag.Name} {problem}, got {v}.");
                });
            configure?.Invoke(o);
            return o;
        }

        public override string? Apply(ParseResult r, ref T c)
        {
            foreach (var o in _options)
                if (r.GetResult(o) is { Implicit: false })
                {
                    c = set(c, r.GetValue(o)!);
                    return o.Name;
                }
            return null;
        }

        public override bool IsGiven(ParseResult r) => _options.Any(o => r.GetResult(o) is { Implicit: false });
        public override bool IsGiven(CommandResult r) => _options.Any(o => r.GetResult(o) is { Implicit: false });
    }
}
