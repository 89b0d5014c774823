using Google.Protobuf;
using Google.Protobuf.Reflection;
using ModelKit.Onnx.Protobuf;
using static ModelKit.Onnx.Tests.HostileModels;

namespace ModelKit.Onnx.Tests;

/// <summary>
/// <see cref="OnnxModel"/> against hostile models (issue 13): every place a tensor can live, unknown fields, limits,
/// sizes and external data.
/// </summary>
public sealed class OnnxModelUntrustedInputTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("modelkit-onnx-tests-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static InvalidModelException Refused(ModelProto model) => Assert.Throws<InvalidModelException>(() => OnnxModel.Validate(model));

    private static InvalidModelException RefusedAsBytes(ModelProto model) => Assert.Throws<InvalidModelException>(() => OnnxModel.LoadProto(model.ToByteArray()));

    [Fact]
    public void Validate_ModelLocalFunctionConstantWithExternalData_IsRefusedNamingTheFunction()
    {
        // Issue 13's bypass: on main, the subset schema parsed 'functions' as unknown fields and this model passed.
        ModelProto model = WithLocalFunction(External("c", "appsettings.json", [4]));

        InvalidModelException ex = RefusedAsBytes(model);

        Assert.StartsWith(
            "Tensor data stored externally is not supported here: tensor of attribute 'value' of node 'c' (Constant) of model-local function 'local:AddConstant' " +
            "(ModelProto.functions[0].node[0].attribute[0].t) keeps its data in an external file ('appsettings.json', data_location EXTERNAL)",
            ex.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_ModelLocalFunctionWithExternalData_IsRefusedBeforeRegistration()
    {
        using var content = new MemoryStream(WithLocalFunction(External("c", "appsettings.json", [4])).ToByteArray());

        var ex = Assert.Throws<InvalidModelException>(() => new OnnxModelInspector().Inspect(content));

        Assert.Contains("'appsettings.json'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ModelLocalFunctionWithInlineConstant_IsAccepted()
    {
        OnnxModel.Validate(WithLocalFunction(Floats("c", [4], new byte[16])));
    }

    [Fact]
    public void Validate_FunctionAttributeDefaultWithExternalData_IsRefused()
    {
        ModelProto model = WithLocalFunction(Floats("c", [4], new byte[16]));
        model.Functions[0].AttributeProto.Add(OnnxAttribute.Tensor("scale", External("s", "secrets.txt", [1])).ToProto());

        InvalidModelException ex = Refused(model);

        Assert.Contains("attribute default 'scale' of model-local function 'local:AddConstant' (ModelProto.functions[0].attribute_proto[0].t)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TrainingInfoInitializerWithExternalData_IsRefused()
    {
        // On main, training_info (field 20) was an unknown field and never inspected.
        InvalidModelException ex = RefusedAsBytes(WithTrainingInfo(External("seed", "/etc/passwd", [4])));

        Assert.Contains("initializer 'seed' of initialization graph 'init' of training_info[0] (ModelProto.training_info[0].initialization.initializer[0])", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TrainingInfoWithInlineData_IsAccepted()
    {
        OnnxModel.Validate(WithTrainingInfo(Floats("seed", [4], new byte[16])));
    }

    [Fact]
    public void Validate_TrainingBindingToUnknownInitializer_IsRefused()
    {
        ModelProto model = WithTrainingInfo(Floats("seed", [4], new byte[16]));
        model.TrainingInfo[0].InitializationBinding[0].Key = "not-an-initializer";

        InvalidModelException ex = Refused(model);

        Assert.StartsWith("The ONNX model's training_info[0].initialization_binding binds 'not-an-initializer' to 'b_init';", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("t")]
    [InlineData("tensors")]
    [InlineData("sparse_tensor")]
    [InlineData("sparse_tensors")]
    public void Validate_ExternalDataInEveryAttributeTensorField_IsRefused(string field)
    {
        ModelProto model = AddBias();
        TensorProto external = External("v", "weights.bin", [1]);
        var attribute = new AttributeProto { Name = "value" };
        var indices = new TensorProto { Name = "i", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 1 }, Int64Data = { 0 } };
        var sparse = new SparseTensorProto { Values = external, Indices = indices, Dims = { 4 } };
        switch (field)
        {
            case "t": attribute.T = external; break;
            case "tensors": attribute.Tensors.Add(external); break;
            case "sparse_tensor": attribute.SparseTensor = sparse; break;
            default: attribute.SparseTensors.Add(sparse); break;
        }

        var node = new NodeProto { Name = "k", OpType = "Constant", Output = { "k" }, Attribute = { attribute } };
        model.Graph.Node.Insert(0, node);

        InvalidModelException ex = Refused(model);

        Assert.Contains($"(ModelProto.graph.node[0].attribute[0].{field}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'weights.bin'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ExternalDataInSubgraphInitializer_IsRefusedNamingTheSubgraph()
    {
        InvalidModelException ex = Refused(NestedIfs(3, External("deep", "weights.bin", [1])));

        Assert.Contains("initializer 'deep' of subgraph 'level3' of attribute 'then_branch' of node 'if2' (If)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_FunctionsThatDoubleAtEveryLevel_AreRefusedBeforeOnnxRuntimeInlinesThem()
    {
        // 40 functions, each calling the next twice: 2^40 nodes once inlined, from a file of a few kilobytes.
        ModelProto model = AddBias();
        for (int level = 0; level < 40; level++)
        {
            var function = new FunctionProto { Name = "F" + level, Domain = "local", Input = { "i" }, Output = { "o" } };
            string callee = level == 39 ? "Relu" : "F" + (level + 1);
            string domain = level == 39 ? string.Empty : "local";
            function.Node.Add(new NodeProto { Name = "a", OpType = callee, Domain = domain, Input = { "i" }, Output = { "t" } });
            function.Node.Add(new NodeProto { Name = "b", OpType = callee, Domain = domain, Input = { "t" }, Output = { "o" } });
            function.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
            model.Functions.Add(function);
        }

        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "local", Version = 1 });
        model.Graph.Node[0].Output[0] = "h";
        model.Graph.Node.Add(new NodeProto { Name = "call", OpType = "F0", Domain = "local", Input = { "h" }, Output = { "y" } });

        InvalidModelException ex = RefusedAsBytes(model);

        Assert.StartsWith("The ONNX model's graph expands to more than OnnxModelOptions.MaxNodes (1,000,000) nodes once ONNX Runtime inlines its model-local functions", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RecursiveFunction_IsRefused()
    {
        ModelProto model = WithLocalFunction(Floats("c", [4], new byte[16]));
        model.Functions[0].Node.Add(new NodeProto { Name = "again", OpType = "AddConstant", Domain = "local", Input = { "fy" }, Output = { "unused" } });

        InvalidModelException ex = Refused(model);

        Assert.StartsWith("The ONNX model's model-local function 'local:AddConstant' calls itself (through 'local:AddConstant'); ONNX forbids recursive functions.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SubgraphsNestedDeeperThanTheLimit_AreRefused()
    {
        OnnxModel.Validate(NestedIfs(4), new OnnxModelOptions { MaxSubgraphDepth = 4 });

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.Validate(NestedIfs(5), new OnnxModelOptions { MaxSubgraphDepth = 4 }));

        Assert.Contains("nests subgraphs 5 levels deep, more than OnnxModelOptions.MaxSubgraphDepth (4)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_MoreNodesOrTensorsThanTheLimits_IsRefused()
    {
        ModelProto model = WithLocalFunction(Floats("c", [4], new byte[16]));

        var nodes = Assert.Throws<InvalidModelException>(() => OnnxModel.Validate(model, new OnnxModelOptions { MaxNodes = 3 }));
        var tensors = Assert.Throws<InvalidModelException>(() => OnnxModel.Validate(model, new OnnxModelOptions { MaxTensors = 1 }));

        Assert.Contains("has more than OnnxModelOptions.MaxNodes (3) nodes", nodes.Message, StringComparison.Ordinal);
        Assert.Contains("has more than OnnxModelOptions.MaxTensors (1) tensors", tensors.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DimensionsWhoseProductOverflows_AreRefusedBeforeAllocation()
    {
        ModelProto model = AddBias();
        model.Graph.Initializer.Add(Floats("huge", [1L << 40, 1L << 40], new byte[4]));

        InvalidModelException ex = Refused(model);

        Assert.Equal(
            "The ONNX model's initializer 'huge' of graph 'main' (ModelProto.graph.initializer[1]) has dims [1099511627776, 1099511627776] whose element count overflows 64 bits. " +
            "A hostile model can declare huge shapes with tiny data; ModelKit refuses them.",
            ex.Message);
    }

    [Fact]
    public void Validate_DimensionsThatDisagreeWithRawData_AreRefused()
    {
        ModelProto model = AddBias();
        model.Graph.Initializer.Add(Floats("big", [1L << 20, 1L << 10], new byte[4]));

        InvalidModelException ex = Refused(model);

        Assert.Contains("declares dims [1048576, 1024] of Float (1,073,741,824 elements, 4,294,967,296 bytes) but raw_data holds 4 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SparseInitializerThatDensifiesPastTheLimit_IsRefused()
    {
        ModelProto model = AddBias();
        model.Graph.SparseInitializer.Add(new SparseTensorProto
        {
            Values = Floats("bomb", [1], new byte[4]),
            Indices = new TensorProto { Name = "bomb_i", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 1 }, Int64Data = { 0 } },
            Dims = { 1L << 30, 1L << 30 },
        });

        InvalidModelException ex = Refused(model);
        Assert.Contains("sparse initializer 'bomb' of graph 'main' (ModelProto.graph.sparse_initializer[0]) densifies to 4,611,686,018,427,387,904 bytes, more than OnnxModelOptions.MaxTensorBytes (4,294,967,296 bytes)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_StringTensorWhoseCountDisagreesWithDims_IsRefused()
    {
        ModelProto model = AddBias();
        var strings = new TensorProto { Name = "labels", DataType = (int)TensorProto.Types.DataType.String, Dims = { 1L << 30 } };
        strings.StringData.Add(ByteString.CopyFromUtf8("cat"));
        model.Graph.Initializer.Add(strings);

        InvalidModelException ex = Refused(model);

        Assert.Contains("declares dims [1073741824] of String (1,073,741,824 elements) but string_data holds 1 values (expected 1,073,741,824)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TensorWithUnknownElementType_IsRefused()
    {
        ModelProto model = AddBias();
        model.Graph.Initializer[0].DataType = 99;

        InvalidModelException ex = Refused(model);

        Assert.Contains("initializer 'b' of graph 'main' (ModelProto.graph.initializer[0]) has the unknown element type 99", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_UnknownFieldInModel_IsRefusedNamingMessageAndFieldNumber()
    {
        byte[] known = AddBias().ToByteArray();
        byte[] withUnknown = [.. known, 0xF8, 0x06, 0x01]; // field 111, varint 1

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.LoadProto(withUnknown));

        Assert.StartsWith(
            "The ONNX model has fields that ONNX 1.19's onnx.proto (IR version 12) does not define: field number 111 (wire type Varint) of message onnx.ModelProto at ModelProto.",
            ex.Message,
            StringComparison.Ordinal);
        Assert.Contains("OnnxModelOptions.AllowUnknownFields", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_UnknownFieldDeepInsideAFunctionTensor_IsRefusedNamingWhere()
    {
        ModelProto model = WithLocalFunction(Floats("c", [4], new byte[16]));
        TensorProto tensor = model.Functions[0].Node[0].Attribute[0].T;
        // A TensorProto field that ONNX 1.19 does not define (as a newer release might add), holding 3 bytes.
        byte[] tensorBytes = [.. tensor.ToByteArray(), 0xA2, 0x06, 3, 1, 2, 3]; // field 100, length-delimited
        model.Functions[0].Node[0].Attribute[0].T = TensorProto.Parser.ParseFrom(tensorBytes);

        InvalidModelException ex = RefusedAsBytes(model);

        Assert.Contains(
            "field number 100 (wire type LengthDelimited) of message onnx.TensorProto at tensor of attribute 'value' of node 'c' (Constant) of model-local function 'local:AddConstant'",
            ex.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_UnknownFieldsAllowedByTheOptions_AreAccepted()
    {
        using var content = new MemoryStream([.. AddBias().ToByteArray(), 0xF8, 0x06, 0x01]);
        var inspector = new OnnxModelInspector(Microsoft.Extensions.Options.Options.Create(new OnnxModelOptions { AllowUnknownFields = true }));

        Assert.Equal("x", inspector.Inspect(content).Signature.Inputs[0].Name);
    }

    [Fact]
    public void Load_UnknownFieldsAllowedForTrustedSource_SurviveARoundTrip()
    {
        byte[] withUnknown = [.. AddBias().ToByteArray(), 0xF8, 0x06, 0x01];

        ModelProto model = OnnxModel.LoadProto(withUnknown, new OnnxModelOptions { AllowUnknownFields = true });

        Assert.Equal(withUnknown, model.ToByteArray());
    }

    [Fact]
    public void EveryOnnxMessageType_ExposesItsUnknownFields()
    {
        var types = new List<string>();
        Collect(ModelProto.Descriptor.File.MessageTypes, types);

        Assert.True(types.Count >= 27, $"found only {types.Count} message types");
        Assert.All(types, name =>
        {
            Type type = typeof(ModelProto).Assembly.GetType(name, throwOnError: true)!;
            Assert.Contains(type.GetInterfaces(), i => i.Name == "IUnknownFieldsSource");
        });

        static void Collect(IEnumerable<MessageDescriptor> messages, List<string> names)
        {
            foreach (MessageDescriptor message in messages)
            {
                names.Add(message.ClrType.FullName!);
                Collect(message.NestedTypes, names);
            }
        }
    }

    [Theory]
    [InlineData("silero_vad_legacy.onnx")]
    [InlineData("silero_vad_v5.onnx")]
    [InlineData("ch_PP-OCRv4_det_infer.onnx")]
    [InlineData("ch_PP-OCRv4_rec_infer.onnx")]
    [InlineData("ch_ppocr_mobile_v2.0_cls_infer.onnx")]
    public void Load_RealThirdPartyModels_PassWithTheDefaultLimits(string file)
    {
        string path = Path.Combine(RepositoryRoot(), "artifacts", "models", "thirdparty", file);

        ModelProto fromBytes = OnnxModel.LoadProto(File.ReadAllBytes(path));
        ModelProto fromFile = OnnxModel.LoadProtoFile(path);

        Assert.Equal(fromBytes, fromFile);
    }

    [Fact]
    public void ReadSignature_InputWithoutShape_HasUnknownRankAndAcceptsAnyShape()
    {
        ModelProto model = AddBias();
        model.Graph.Input[0].Type.TensorType.Shape = null;

        TensorSpec input = OnnxModel.ReadSignature(model).Inputs[0];

        Assert.True(input.HasUnknownRank);
        Assert.True(input.Accepts([2, 4]));
        Assert.True(input.Accepts([7]));
        Assert.Equal(TensorSpec.WithUnknownRank("x", TensorElementType.Float), input);
    }

    [Fact]
    public void ReadSignature_ScalarInput_HasKnownRankZero()
    {
        ModelProto model = AddBias();
        model.Graph.Input[0].Type.TensorType.Shape = new TensorShapeProto();

        TensorSpec input = OnnxModel.ReadSignature(model).Inputs[0];

        Assert.False(input.HasUnknownRank);
        Assert.True(input.Accepts([]));
        Assert.False(input.Accepts([2, 4]));
    }

    // External data against a folder (OnnxModel.LoadFile, OnnxModel.Validate with a folder).

    private string WriteModel(ModelProto model, string folder = "model")
    {
        string dir = Path.Combine(_root, folder);
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "model.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    private static ModelProto WithExternalBias(string location, long? offset = null, long? length = null)
    {
        ModelProto model = AddBias();
        model.Graph.Initializer[0] = External("b", location, [4], offset, length);
        return model;
    }

    [Fact]
    public void LoadFile_ExternalDataInsideTheFolder_IsAccepted()
    {
        string path = WriteModel(WithExternalBias("data/b.bin", offset: 8, length: 16));
        Directory.CreateDirectory(Path.Combine(_root, "model", "data"));
        File.WriteAllBytes(Path.Combine(_root, "model", "data", "b.bin"), new byte[32]);

        ModelProto model = OnnxModel.LoadProtoFile(path);

        Assert.Equal("b", model.Graph.Initializer[0].Name);
    }

    [Fact]
    public void LoadFile_ModelFolderReachedThroughASymbolicLink_IsAccepted()
    {
        WriteModel(WithExternalBias("b.bin"));
        File.WriteAllBytes(Path.Combine(_root, "model", "b.bin"), new byte[16]);
        Directory.CreateSymbolicLink(Path.Combine(_root, "current"), Path.Combine(_root, "model"));

        ModelProto model = OnnxModel.LoadProtoFile(Path.Combine(_root, "current", "model.onnx"));

        Assert.Equal("b", model.Graph.Initializer[0].Name);
    }

    [Fact]
    public void Load_ExternalDataGivenAsBytes_IsRefusedEvenWhenTheFileExistsInTheWorkingDirectory()
    {
        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.LoadProto(WithExternalBias("appsettings.json").ToByteArray()));

        Assert.Contains("a model given as bytes has no folder that the file could be checked against", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../canary.bin", "not a normalised relative path")]
    [InlineData("data/../../canary.bin", "not a normalised relative path")]
    [InlineData("./b.bin", "not a normalised relative path")]
    [InlineData("/etc/passwd", "absolute external_data location")]
    [InlineData("C:\\Windows\\win.ini", "with a NUL, backslash or colon")]
    [InlineData("*/_ORT_MEM_ADDR_/*", "which ONNX Runtime reads as a memory address of the serving process")]
    [InlineData("missing.bin", "which does not exist in the model's folder")]
    [InlineData("data", "which does not exist in the model's folder")]
    public void LoadFile_ExternalDataLocationBreakingARule_IsRefusedNamingTheRule(string location, string rule)
    {
        File.WriteAllBytes(Path.Combine(_root, "canary.bin"), new byte[16]);
        string path = WriteModel(WithExternalBias(location));
        Directory.CreateDirectory(Path.Combine(_root, "model", "data"));

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.LoadProtoFile(path));

        Assert.StartsWith("External tensor data refused: initializer 'b' of graph 'main' (ModelProto.graph.initializer[0])", ex.Message, StringComparison.Ordinal);
        Assert.Contains(rule, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadFile_SymbolicLinkLeadingOutOfTheFolder_IsRefused()
    {
        File.WriteAllBytes(Path.Combine(_root, "canary.bin"), new byte[16]);
        string path = WriteModel(WithExternalBias("linked/canary.bin"));
        Directory.CreateSymbolicLink(Path.Combine(_root, "model", "linked"), _root);

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.LoadProtoFile(path));

        Assert.Contains($"which resolves (through symbolic links) to '{Path.Combine(_root, "canary.bin")}', outside the model's folder", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadFile_SymbolicLinkToADeviceOutsideTheFolder_IsRefused()
    {
        string path = WriteModel(WithExternalBias("zeros.bin"));
        File.CreateSymbolicLink(Path.Combine(_root, "model", "zeros.bin"), "/dev/zero");

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.LoadProtoFile(path));

        Assert.Contains("resolves (through symbolic links) to '/dev/zero', outside the model's folder", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadFile_SymbolicLinkInsideTheFolder_IsAccepted()
    {
        string path = WriteModel(WithExternalBias("alias.bin"));
        File.WriteAllBytes(Path.Combine(_root, "model", "b.bin"), new byte[16]);
        File.CreateSymbolicLink(Path.Combine(_root, "model", "alias.bin"), "b.bin");

        OnnxModel.LoadProtoFile(path);
    }

    [Theory]
    [InlineData(8L, 16L, "reads 16 bytes from offset 8 of 'b.bin', past its end (16 bytes)")]
    [InlineData(17L, null, "starts at offset 17 in 'b.bin', past its end (16 bytes)")]
    [InlineData(0L, 8L, "needs 16 bytes for its type and dimensions but its external data in 'b.bin' is 8 bytes (offset 0)")]
    [InlineData(4L, null, "needs 16 bytes for its type and dimensions but its external data in 'b.bin' is 12 bytes (offset 4, to the end of the file)")]
    public void LoadFile_OffsetAndLengthOutsideTheFile_AreRefused(long offset, long? length, string message)
    {
        string path = WriteModel(WithExternalBias("b.bin", offset, length));
        File.WriteAllBytes(Path.Combine(_root, "model", "b.bin"), new byte[16]);

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.LoadProtoFile(path));

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadFile_OffsetThatIsNotADecimalNumber_IsRefused()
    {
        ModelProto model = WithExternalBias("b.bin");
        model.Graph.Initializer[0].ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "-1" });
        string path = WriteModel(model);
        File.WriteAllBytes(Path.Combine(_root, "model", "b.bin"), new byte[16]);

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.LoadProtoFile(path));

        Assert.Contains("has the external_data offset '-1'. The offset must be a decimal number of bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_WithFolder_ChecksExternalDataOfFunctionsToo()
    {
        string dir = Path.Combine(_root, "model");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(_root, "appsettings.json"), new byte[16]);
        ModelProto model = WithLocalFunction(External("c", "../appsettings.json", [4]));

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.Validate(model, new OnnxModelOptions(), dir));

        Assert.Contains("of model-local function 'local:AddConstant'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("not a normalised relative path", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_InvalidOptions_ThrowArgumentExceptionQuotingTheValue()
    {
        var ex = Assert.Throws<ArgumentException>(() => OnnxModel.Validate(AddBias(), new OnnxModelOptions { MaxTensorBytes = 10, MaxTotalTensorBytes = 5 }));

        Assert.StartsWith("OnnxModelOptions.MaxTotalTensorBytes is 5, less than MaxTensorBytes (10);", ex.Message, StringComparison.Ordinal);
    }
}
