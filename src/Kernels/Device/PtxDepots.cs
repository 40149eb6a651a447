// Test: tests/IlgpuStyle.Tests/Kernels/PtxDepotsTests.cs (the rewrite on hand-written PTX, refusals) and
// tests/IlgpuStyle.Tests/Kernels/PtxasTests.cs (the cp.async kernels, rewritten, assemble with no stack frame)
using System.Text.RegularExpressions;

namespace IlgpuStyle.Kernels;

/// <summary>
/// Moves ILGPU's inline-asm operand depots into registers, in a kernel's PTX text.
/// ILGPU 1.5.3 passes every <c>CudaAsm</c> output (each mma.sync result, each cvt) through a 4-byte <c>.local</c>
/// array: <c>mov.b64 %rdN, __local_depotK</c> once, then <c>st.local</c> / <c>ld.local</c> through %rdN. ptxas
/// normally promotes them back to registers, but not in a function that also issues a <c>cp.async</c>: there they stay
/// in local memory (1.4–2.9 KB of stack per thread in the tensor-core kernels; doc/PERFORMANCE.md, "cp.async stages").
/// The rewrite does the promotion in the text: depot K becomes the .b32 register %depK, its stores and loads become
/// mov.b32. It refuses (<see cref="InvalidOperationException"/>) anything it does not understand — more than one
/// function, a depot's address register written twice or used by another instruction — rather than guess.
/// </summary>
public static partial class PtxDepots
{
    [GeneratedRegex(@"^\t\.local \.align 4 \.b8 __local_depot(\d+)\[4\];\n", RegexOptions.Multiline)]
    private static partial Regex Declaration();

    [GeneratedRegex(@"^\tmov\.b64\t(%rd\d+), __local_depot(\d+);\n", RegexOptions.Multiline)]
    private static partial Regex AddressOf();

    [GeneratedRegex(@"^\t[a-z][\w.]*\t(%rd\d+),", RegexOptions.Multiline)]
    private static partial Regex Destination();

    [GeneratedRegex(@"^\tst\.local\.[bfus]32\t\[(%rd\d+)\], ([^;\n]+);", RegexOptions.Multiline)]
    private static partial Regex Store();

    [GeneratedRegex(@"^\tld\.local\.[bfus]32\t(%\w+), \[(%rd\d+)\];", RegexOptions.Multiline)]
    private static partial Regex Load();

    [GeneratedRegex(@"%rd\d+\b")]
    private static partial Regex AddressRegister();

    [GeneratedRegex(@"^\.(?:visible \.)?(?:entry|func)\b", RegexOptions.Multiline)]
    private static partial Regex Function();

    /// <summary>The prefix of the registers the depots become (%dep0, %dep1, …).</summary>
    public const string RegisterPrefix = "%dep";

    /// <summary>
    /// <paramref name="ptx"/> with its depots as registers, and how many there were (0: none to move). Every cp.async
    /// kernel's PTX passes through here, so this is also where its copies learn the name of a dynamic shared array
    /// (<see cref="TensorCores.AsyncCopy.NameDynamicSharedArray"/>).
    /// </summary>
    public static (string Ptx, int Depots) Rewrite(string ptx)
    {
        ptx = TensorCores.AsyncCopy.NameDynamicSharedArray(ptx);
        var depots = Declaration().Matches(ptx).Select(m => int.Parse(m.Groups[1].Value)).ToList();
        if (depots.Count == 0) return (ptx, 0);
        if (Function().Matches(ptx).Count != 1)
            throw new InvalidOperationException("PTX depots: the module has more than one function (register names are per function)");
        if (ptx.Contains(RegisterPrefix, StringComparison.Ordinal))
            throw new InvalidOperationException($"PTX depots: the module already uses the register name {RegisterPrefix}");

        // %rdN → %depK, for every depot whose address is taken once.
        var writes = Destination().Matches(ptx).GroupBy(d => d.Groups[1].Value).ToDictionary(g => g.Key, g => g.Count());
        var register = new Dictionary<string, string>();
        foreach (Match m in AddressOf().Matches(ptx))
        {
            string address = m.Groups[1].Value;
            int written = writes.GetValueOrDefault(address);
            if (written != 1)
                throw new InvalidOperationException($"PTX depots: {address} (the address of __local_depot{m.Groups[2].Value}) is written {written} times");
            register.Add(address, RegisterPrefix + m.Groups[2].Value);
        }
        if (register.Count != depots.Count)
            throw new InvalidOperationException($"PTX depots: {depots.Count} depots declared, {register.Count} addresses taken");

        ptx = Declaration().Replace(ptx, "");
        ptx = AddressOf().Replace(ptx, "");
        ptx = Store().Replace(ptx, m => register.TryGetValue(m.Groups[1].Value, out var r) ? $"\tmov.b32\t{r}, {m.Groups[2].Value};" : m.Value);
        ptx = Load().Replace(ptx, m => register.TryGetValue(m.Groups[2].Value, out var r) ? $"\tmov.b32\t{m.Groups[1].Value}, {r};" : m.Value);
        foreach (var line in ptx.Split('\n'))
            if (AddressRegister().Matches(line).Any(a => register.ContainsKey(a.Value)))
                throw new InvalidOperationException("PTX depots: a depot's address is used other than by st.local / ld.local: " + line.Trim());

        int firstRegisters = ptx.IndexOf("\t.reg .", StringComparison.Ordinal);
        if (firstRegisters < 0) throw new InvalidOperationException("PTX depots: no .reg declarations to add the depot registers to");
        ptx = ptx.Insert(firstRegisters, $"\t.reg .b32\t{RegisterPrefix}<{depots.Max() + 1}>;\n");
        return (ptx, depots.Count);
    }
}
