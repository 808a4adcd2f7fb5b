// Compiled by MSBuild's RoslynCodeTaskFactory (see TorchSharpNativeFix.targets); keep it self-contained.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class PatchTorchSharpGlibcxx : Task
{
    const string Symbol = "_ZSt21ios_base_library_initv";
    const string Version = "GLIBCXX_3.4.32";
    const uint ShtDynsym = 11, ShtGnuVersym = 0x6fffffff, ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlagWeak = 2, VerNdxGlobal = 1;
    const byte StbWeak = 2;

    [Required] public ITaskItem[] Files { get; set; }

    public override bool Execute()
    {
        foreach (var item in Files)
        {
            string path = item.GetMetadata("FullPath");
            try
            {
                byte[] elf = File.ReadAllBytes(path);
                int changes = Patch(elf);
                if (changes > 0)
                {
                    File.WriteAllBytes(path, elf);
                    Log.LogMessage(MessageImportance.High, "TorchSharp native fix: patched " + path + " (" + changes + " edits)");
                }
            }
            catch (Exception e)
            {
                Log.LogError("TorchSharp native fix failed for " + path + ": " + e.Message);
            }
        }
        return !Log.HasLoggedErrors;
    }

    // Returns the number of bytes fields changed; 0 when already patched or not needed.
    static int Patch(byte[] b)
    {
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[4] != 2 || b[5] != 1)
            throw new InvalidDataException("not a little-endian ELF64 file");
        long shoff = (long)U64(b, 0x28);
        int shentsize = U16(b, 0x3A), shnum = U16(b, 0x3C);
        long dynsymOff = -1, dynsymSize = 0, versymOff = -1, verneedOff = -1; int verneedCount = 0; int dynstrIndex = -1;
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            uint type = U32(b, sh + 4);
            long off = (long)U64(b, sh + 0x18), size = (long)U64(b, sh + 0x20);
            if (type == ShtDynsym) { dynsymOff = off; dynsymSize = size; dynstrIndex = (int)U32(b, sh + 0x28); }
            else if (type == ShtGnuVersym) versymOff = off;
            else if (type == ShtGnuVerneed) { verneedOff = off; verneedCount = (int)U32(b, sh + 0x2C); }
        }
        if (dynsymOff < 0 || versymOff < 0 || verneedOff < 0) return 0;
        long dynstrOff = (long)U64(b, shoff + (long)dynstrIndex * shentsize + 0x18);

        int changes = 0;
        long symCount = dynsymSize / 24;
        for (long s = 0; s < symCount; s++)
        {
            long sym = dynsymOff + s * 24;
            if (CString(b, dynstrOff + U32(b, sym)) != Symbol) continue;
            long vs = versymOff + s * 2;
            if (U16(b, vs) != VerNdxGlobal) { W16(b, vs, VerNdxGlobal); changes++; }
            byte info = b[sym + 4];
            byte weak = (byte)((StbWeak << 4) | (info & 0xF));
            if (info != weak) { b[sym + 4] = weak; changes++; }
        }

        long vn = verneedOff;
        for (int n = 0; n < verneedCount; n++)
        {
            int auxCount = U16(b, vn + 2);
            long aux = vn + U32(b, vn + 8);
            for (int a = 0; a < auxCount; a++)
            {
                if (CString(b, dynstrOff + U32(b, aux + 8)) == Version)
                {
                    ushort flags = U16(b, aux + 4);
                    if ((flags & VerFlagWeak) == 0) { W16(b, aux + 4, (ushort)(flags | VerFlagWeak)); changes++; }
                }
                aux += U32(b, aux + 12);
            }
            uint next = U32(b, vn + 12);
            if (next == 0) break;
            vn += next;
        }
        return changes;
    }

    static ushort U16(byte[] b, long o) { return (ushort)(b[o] | b[o + 1] << 8); }
    static uint U32(byte[] b, long o) { return (uint)(b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24); }
    static ulong U64(byte[] b, long o) { return U32(b, o) | (ulong)U32(b, o + 4) << 32; }
    static void W16(byte[] b, long o, ushort v) { b[o] = (byte)v; b[o + 1] = (byte)(v >> 8); }
    static string CString(byte[] b, long o) { long e = o; while (b[e] != 0) e++; return Encoding.ASCII.GetString(b, (int)o, (int)(e - o)); }
}
