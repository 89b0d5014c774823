using ModelKit.Onnx.Protobuf;

namespace ModelKit.Onnx.Tests;

public class OnnxAttributeTests
{
    [Fact]
    public void Factories_SetTypeAndValue()
    {
        AttributeProto i = OnnxAttribute.Int("axis", 1).ToProto();
        AttributeProto f = OnnxAttribute.Float("alpha", 0.25f).ToProto();
        AttributeProto ints = OnnxAttribute.Ints("perm", 0, 2, 1).ToProto();
        AttributeProto floats = OnnxAttribute.Floats("scales", 1f, 2f).ToProto();
        AttributeProto s = OnnxAttribute.String("mode", "nearest").ToProto();

        Assert.Equal((AttributeProto.Types.AttributeType.Int, 1L), (i.Type, i.I));
        Assert.Equal((AttributeProto.Types.AttributeType.Float, 0.25f), (f.Type, f.F));
        Assert.Equal(AttributeProto.Types.AttributeType.Ints, ints.Type);
        Assert.Equal([0L, 2L, 1L], ints.Ints);
        Assert.Equal(AttributeProto.Types.AttributeType.Floats, floats.Type);
        Assert.Equal([1f, 2f], floats.Floats);
        Assert.Equal(AttributeProto.Types.AttributeType.String, s.Type);
        Assert.Equal("nearest", s.S.ToStringUtf8());
        Assert.Equal("mode", OnnxAttribute.String("mode", "x").Name);
    }

    [Fact]
    public void Ints_CopiesTheArray()
    {
        long[] values = [1, 2];
        OnnxAttribute attribute = OnnxAttribute.Ints("pads", values);
        values[0] = 99;

        Assert.Equal([1L, 2L], attribute.ToProto().Ints);
    }

    [Fact]
    public void Int_EmptyName_Throws()
    {
        Assert.Throws<ArgumentException>(() => OnnxAttribute.Int("", 1));
    }
}
