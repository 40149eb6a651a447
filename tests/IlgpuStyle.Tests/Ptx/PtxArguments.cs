// Test: tests/IlgpuStyle.Tests/Ptx/PtxInterpreterTests.cs (each parameter's bytes against the .param the PTX declares)
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Tests.Ptx;

/// <summary>
/// A launch's arguments as the bytes of the PTX parameter block, laid out as ILGPU 1.5.3's CUDA launcher passes them:
/// scalars and structs in C layout (fields in declaration order at their natural alignment, an empty struct one byte),
/// an <c>ArrayView&lt;T&gt;</c> as {address, length}, an <c>ArrayView1D&lt;T, Stride1D.Dense&gt;</c> as {address, length,
/// extent, stride (one byte)} — the address of CPU-accelerator memory, so the interpreter reads the buffer itself. Each
/// view is added to the launch's <see cref="PtxGlobalMemory"/>; each parameter's size must equal the PTX's declaration.
/// </summary>
public static class PtxArguments
{
    public static byte[] Marshal(PtxProgram program, IReadOnlyList<object?> values, PtxGlobalMemory global)
    {
        if (values.Count != program.Parameters.Count)
            throw new ArgumentException($"{program.Name}: {values.Count} arguments for {program.Parameters.Count} PTX parameters");
        var bytes = new byte[Math.Max(program.ParameterBytes, 1)];
        for (int k = 0; k < values.Count; k++)
        {
            var parameter = program.Parameters[k];
            var value = values[k] ?? throw new ArgumentException($"{program.Name}: argument {k} is null");
            var buffer = new List<byte>();
            Append(buffer, value, value.GetType(), global, $"{program.Name}.{parameter.Name}");
            Pad(buffer, Alignment(value.GetType()));
            if (buffer.Count != parameter.Bytes)
                throw new ArgumentException($"{program.Name}: parameter {parameter.Name} is {parameter.Bytes} bytes in the PTX, {buffer.Count} as {value.GetType().Name}");
            buffer.CopyTo(bytes, parameter.Offset);
        }
        return bytes;
    }

    private static void Append(List<byte> buffer, object value, Type type, PtxGlobalMemory global, string name)
    {
        Pad(buffer, Alignment(type));
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ArrayView1D<,>))
        {
            var view = type.GetProperty("BaseView")!.GetValue(value)!;
            AppendView(buffer, view, global, name);
            long extent = (long)type.GetProperty("Length")!.GetValue(value)!;
            buffer.AddRange(BitConverter.GetBytes(extent));
            var stride = type.GetGenericArguments()[1];
            if (stride != typeof(Stride1D.Dense)) throw new NotSupportedException($"{name}: stride {stride.Name}");
            buffer.Add(0);
            return;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ArrayView<>))
        {
            AppendView(buffer, value, global, name);
            return;
        }
        switch (value)
        {
            case bool b: buffer.Add(b ? (byte)1 : (byte)0); return;
            case byte v: buffer.Add(v); return;
            case int v: buffer.AddRange(BitConverter.GetBytes(v)); return;
            case uint v: buffer.AddRange(BitConverter.GetBytes(v)); return;
            case long v: buffer.AddRange(BitConverter.GetBytes(v)); return;
            case ulong v: buffer.AddRange(BitConverter.GetBytes(v)); return;
            case float v: buffer.AddRange(BitConverter.GetBytes(v)); return;
            case double v: buffer.AddRange(BitConverter.GetBytes(v)); return;
        }
        if (!type.IsValueType || type.IsPrimitive || type.IsEnum && Enum.GetUnderlyingType(type) != typeof(int))
            throw new NotSupportedException($"{name}: argument type {type.Name}");
        if (type.IsEnum) { buffer.AddRange(BitConverter.GetBytes(System.Convert.ToInt32(value, null))); return; }
        var fields = Fields(type);
        int start = buffer.Count;
        if (fields.Length == 0) buffer.Add(0);
        foreach (var f in fields) Append(buffer, f.GetValue(value)!, f.FieldType, global, $"{name}.{f.Name}");
        while ((buffer.Count - start) % Alignment(type) != 0) buffer.Add(0);
    }

    private static void AppendView(List<byte> buffer, object view, PtxGlobalMemory global, string name)
    {
        var element = view.GetType().GetGenericArguments()[0];
        long length = (long)view.GetType().GetProperty("Length")!.GetValue(view)!;
        long address = length == 0 ? 0 : (long)(nint)AddressOf.MakeGenericMethod(element).Invoke(null, [view])!;
        global.Add(address, length * System.Runtime.InteropServices.Marshal.SizeOf(element), name);
        buffer.AddRange(BitConverter.GetBytes(address));
        buffer.AddRange(BitConverter.GetBytes(length));
    }

    private static readonly MethodInfo AddressOf = typeof(ArrayViewExtensions).GetMethods()
        .Single(m => m.Name == nameof(ArrayViewExtensions.LoadEffectiveAddressAsPtr) && m.GetParameters().Length == 1);

    private static FieldInfo[] Fields(Type type) =>
        type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).OrderBy(f => f.MetadataToken).ToArray();

    private static int Alignment(Type type)
    {
        if (type.IsGenericType && (type.GetGenericTypeDefinition() == typeof(ArrayView1D<,>) || type.GetGenericTypeDefinition() == typeof(ArrayView<>)))
            return 8;
        if (type == typeof(bool) || type == typeof(byte)) return 1;
        if (type == typeof(long) || type == typeof(ulong) || type == typeof(double)) return 8;
        if (type.IsPrimitive || type.IsEnum) return 4;
        var fields = Fields(type);
        return fields.Length == 0 ? 1 : fields.Max(f => Alignment(f.FieldType));
    }

    private static void Pad(List<byte> buffer, int align)
    {
        while (buffer.Count % align != 0) buffer.Add(0);
    }
}
